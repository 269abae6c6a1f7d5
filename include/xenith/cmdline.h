/*
 * The kernel command line (hvm_start_info.cmdline_paddr).  The parser is
 * pure C with no kernel dependencies so tests/host can run it on the host
 * against good, malformed and overlong input.  It never writes outside
 * struct boot_options; every problem becomes a diagnostic and parsing goes
 * on, so exit= is honoured even on a line with errors.
 */
#ifndef XENITH_CMDLINE_H
#define XENITH_CMDLINE_H

#include <xenith/types.h>
#include <xenith/cpumask.h>

#define CMDLINE_MAX_PATTERNS  32
#define CMDLINE_PATTERN_MAX   64        /* bytes, including the NUL */
#define CMDLINE_MAX_DIAGS     8
#define CMDLINE_DIAG_MAX      128
#define ITERATIONS_MAX        100000
#define TORTURE_S_MAX         604800    /* a week */
#define BOUND_SCALE_MAX       16

enum exit_mode { EXIT_POWEROFF, EXIT_QEMU, EXIT_REBOOT, EXIT_HALT };
/* How Xen signals events: the per-vCPU vector when Xen offers it (auto),
 * or the domain-wide HVM_PARAM_CALLBACK_IRQ vector, forced (callback). */
enum upcall_mode { UPCALL_AUTO, UPCALL_CALLBACK };
/* Which event-channel ABI (events/abi.c): FIFO when Xen takes a control
 * block (auto), or one of them forced; fifo fails the boot if Xen
 * refuses it, rather than testing 2-level under the wrong name. */
enum evtchn_mode { EVTCHN_AUTO, EVTCHN_FIFO, EVTCHN_2L };

struct cmdline_diag {
    bool is_error;              /* error: the run fails; else a warning */
    char msg[CMDLINE_DIAG_MAX];
};

struct boot_options {
    bool selftest_given;        /* selftest= present (even if "none") */
    unsigned int nr_patterns;   /* selftest= patterns; "all" is "*" */
    char patterns[CMDLINE_MAX_PATTERNS][CMDLINE_PATTERN_MAX];
    uint32_t iterations;        /* >= 1 */
    uint32_t bound_scale;       /* self-test time bounds x this, >= 1 */
    int loglevel;               /* 0..8, printk shows levels below it */
    unsigned int console;       /* CONSOLE_* sinks */
    enum exit_mode exit;
    enum upcall_mode upcall;
    enum evtchn_mode evtchn;
    struct cpumask offline;     /* vCPUs to take offline after boot */
    uint32_t pvspin;            /* pauses before a lock waiter sleeps;
                                 * 0: calibrated (lock/pvlock.c) */
    uint32_t torture_s;         /* torture=: seconds of torture, 0 = none */
    bool seed_given;            /* seed=: torture's choices, else drawn */
    uint64_t seed;
    unsigned int nr_errors, nr_warnings;
    unsigned int nr_diags;      /* stored diagnostics, <= CMDLINE_MAX_DIAGS */
    struct cmdline_diag diags[CMDLINE_MAX_DIAGS];
};

/* Parse at most max bytes of line (NUL or max ends it).  Returns the
 * number of errors; defaults are in place for every option not given or
 * given badly. */
unsigned int cmdline_parse(const char *line, size_t max,
                           struct boot_options *o);

/* A problem found outside the parser (e.g. a truncated copy). */
void cmdline_error(struct boot_options *o, const char *what);

extern struct boot_options boot_options;

#endif
