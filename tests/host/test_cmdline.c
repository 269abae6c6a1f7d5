/*
 * Host test of the command-line parser (kernel/cmdline.c, unchanged),
 * under AddressSanitizer and UBSan: table cases with exact expectations,
 * then a seeded random-input loop whose only oracle is "no sanitizer
 * report, canaries intact, counters in range".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenith/cmdline.h>
#include <xenith/console.h>
#include <xenith/printk.h>

static int failures, checks;

#define EXPECT(c) do { checks++; if (!(c)) { failures++; \
    fprintf(stderr, "%s:%d: EXPECT(%s) failed for '%s'\n", __FILE__, \
            __LINE__, #c, cur); } } while (0)

static const char *cur;

struct case_ {
    const char *line;
    unsigned int errors, warnings, patterns;
};

static const struct case_ cases[] = {
    { "", 0, 0, 0 },
    { "selftest=all", 0, 0, 1 },
    { "selftest=none", 0, 0, 0 },
    { "selftest=boot,mm.*,regress.?x", 0, 0, 3 },
    { "selftest=", 1, 0, 0 },
    { "selftest=,", 2, 0, 0 },
    { "selftest=a b c", 0, 2, 1 },
    { "selftest=a;b", 1, 0, 0 },
    { "iterations=1", 0, 0, 0 },
    { "iterations=100000", 0, 0, 0 },
    { "iterations=100001", 1, 0, 0 },
    { "iterations=18446744073709551616", 1, 0, 0 },
    { "iterations=0x", 1, 0, 0 },
    { "iterations=-3", 1, 0, 0 },
    { "bound_scale=1", 0, 0, 0 },
    { "bound_scale=16", 0, 0, 0 },
    { "bound_scale=0", 1, 0, 0 },
    { "bound_scale=17", 1, 0, 0 },
    { "bound_scale=", 1, 0, 0 },
    { "loglevel=0 loglevel=8", 0, 0, 0 },
    { "loglevel=9", 1, 0, 0 },
    { "loglevel=07x", 1, 0, 0 },
    { "console=e9", 0, 0, 0 },
    { "console=e9,", 1, 0, 0 },
    { "console=xen,xen", 0, 0, 0 },
    { "exit=qemu exit=halt exit=reboot exit=poweroff", 0, 0, 0 },
    { "exit=QEMU", 1, 0, 0 },
    { "exit", 1, 0, 0 },
    { "upcall=auto upcall=callback", 0, 0, 0 },
    { "upcall=vector", 1, 0, 0 },
    { "upcall=", 1, 0, 0 },
    { "evtchn=auto evtchn=fifo evtchn=2l", 0, 0, 0 },
    { "evtchn=3l", 1, 0, 0 },
    { "evtchn=FIFO", 1, 0, 0 },
    { "evtchn=", 1, 0, 0 },
    { "offline=1,3,63", 0, 0, 0 },
    { "offline=64,127", 0, 0, 0 },
    { "offline=0", 1, 0, 0 },
    { "offline=128", 1, 0, 0 },
    { "offline=2,", 1, 0, 0 },
    { "offline=", 1, 0, 0 },
    { "pvspin=4 pvspin=65536", 0, 0, 0 },
    { "pvspin=3", 1, 0, 0 },
    { "pvspin=65537", 1, 0, 0 },
    { "pvspin=", 1, 0, 0 },
    { "torture=1 torture=604800", 0, 0, 0 },
    { "torture=0", 1, 0, 0 },
    { "torture=604801", 1, 0, 0 },
    { "torture=", 1, 0, 0 },
    { "seed=0 seed=18446744073709551615 seed=0xffffffffffffffff", 0, 0, 0 },
    { "seed=18446744073709551616", 1, 0, 0 },
    { "seed=-1", 1, 0, 0 },
    { "=", 0, 1, 0 },
    { "=====", 0, 1, 0 },
    { "nosmp foo=bar", 0, 2, 0 },
    { "selftest=boot\x01", 1, 0, 0 },
};

static void run_case(const struct case_ *c)
{
    struct { long before; struct boot_options o; long after; } g;

    g.before = g.after = 0x5a5a5a5a;
    cur = c->line;
    cmdline_parse(c->line, 1024, &g.o);
    EXPECT(g.o.nr_errors == c->errors);
    EXPECT(g.o.nr_warnings == c->warnings);
    EXPECT(g.o.nr_patterns == c->patterns);
    EXPECT(g.before == 0x5a5a5a5a && g.after == 0x5a5a5a5a);
}

static void check_values(void)
{
    struct boot_options o;

    cur = "values";
    cmdline_parse("iterations=0x20 loglevel=3 console=e9 exit=halt "
                  "selftest=all", 1024, &o);
    EXPECT(o.iterations == 32 && o.loglevel == 3);
    EXPECT(o.console == CONSOLE_E9 && o.exit == EXIT_HALT);
    EXPECT(o.selftest_given && !strcmp(o.patterns[0], "*"));
    /* A bad value keeps the default, the line goes on being parsed. */
    cmdline_parse("iterations=zz exit=qemu", 1024, &o);
    EXPECT(o.iterations == 1 && o.exit == EXIT_QEMU && o.nr_errors == 1);
    EXPECT(o.pvspin == 0);              /* 0: calibrate at boot */
    EXPECT(o.bound_scale == 1);
    cmdline_parse("bound_scale=4", 1024, &o);
    EXPECT(o.bound_scale == 4 && o.nr_errors == 0);
    cmdline_parse("pvspin=300", 1024, &o);
    EXPECT(o.pvspin == 300);
    EXPECT(o.torture_s == 0 && !o.seed_given);
    cmdline_parse("torture=300 seed=0", 1024, &o);
    EXPECT(o.torture_s == 300 && o.seed_given && o.seed == 0);
    /* vCPUs past 63: a domU may have 128 (Xen's HVM maximum). */
    cmdline_parse("offline=2,63,64,127", 1024, &o);
    EXPECT(cpumask_test(&o.offline, 2) && cpumask_test(&o.offline, 63) &&
           cpumask_test(&o.offline, 64) && cpumask_test(&o.offline, 127));
    EXPECT(!cpumask_test(&o.offline, 1) && !cpumask_test(&o.offline, 65) &&
           !cpumask_test(&o.offline, 0));
}

/* The parser must respect max even without a NUL: ASan catches a read of
 * the byte past a malloc'd, unterminated buffer. */
static void check_unterminated(void)
{
    char *buf = malloc(100);
    struct boot_options o;

    cur = "unterminated";
    memset(buf, 'x', 100);
    cmdline_parse(buf, 100, &o);
    EXPECT(o.nr_errors == 1);
    free(buf);
}

static void fuzz(unsigned int rounds)
{
    static const char *frags[] = {
        "selftest=", "iterations=", "loglevel=", "console=", "exit=", "upcall=",
        "callback", "evtchn=", "fifo", "2l", "offline=", "pvspin=",
        "all", "none", ",", "=", " ", "\t", "*", "?", ".", "xen", "e9",
        "qemu", "0x", "9", "99999999999999999999", "\xff", "\x01", "boot",
    };
    struct { long before; struct boot_options o; long after; } g;
    char line[3000];

    srand(12345);
    cur = "fuzz";
    for (unsigned int r = 0; r < rounds; r++) {
        size_t n = 0, want = rand() % sizeof(line);
        while (n < want) {
            const char *f = frags[rand() % (sizeof(frags) / sizeof(*frags))];
            size_t l = strlen(f);
            if (rand() % 7 == 0) {
                line[n++] = (char)(rand() % 256);
                continue;
            }
            if (n + l >= want)
                break;
            memcpy(line + n, f, l);
            n += l;
        }
        line[n] = '\0';
        g.before = g.after = 0x5a5a5a5a;
        cmdline_parse(line, rand() % 2 ? sizeof(line) : n + 1, &g.o);
        EXPECT(g.before == 0x5a5a5a5a && g.after == 0x5a5a5a5a);
        EXPECT(g.o.nr_diags <= CMDLINE_MAX_DIAGS);
        EXPECT(g.o.nr_patterns <= CMDLINE_MAX_PATTERNS);
        EXPECT(g.o.iterations >= 1 && g.o.iterations <= ITERATIONS_MAX);
        EXPECT(g.o.loglevel >= 0 && g.o.loglevel <= LOGLEVEL_MAX);
        for (unsigned int i = 0; i < g.o.nr_diags; i++)
            EXPECT(memchr(g.o.diags[i].msg, 0, CMDLINE_DIAG_MAX) != NULL);
    }
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
    check_values();
    check_unterminated();
    fuzz(20000);
    printf("test_cmdline: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
