/*
 * Command-line parser.  Input is untrusted: it comes from whoever started
 * the domain.  Every value is length-checked before it is copied, every
 * number parsed strictly, and every problem becomes a diagnostic quoted
 * back with non-printable bytes replaced.  The parser only ever writes
 * inside struct boot_options.
 */
#include <xenith/cmdline.h>
#include <xenith/pvlock.h>
#include <xenith/console.h>
#include <xenith/printk.h>
#include <xenith/compiler.h>
#include <xenith/string.h>

struct boot_options boot_options;

#define QUOTE_MAX 40

static void add_diag(struct boot_options *o, bool is_error, const char *what,
                     const char *text, size_t len)
{
    char quoted[QUOTE_MAX + 4];
    size_t n = len < QUOTE_MAX ? len : QUOTE_MAX;

    if (is_error)
        o->nr_errors++;
    else
        o->nr_warnings++;
    if (o->nr_diags >= CMDLINE_MAX_DIAGS)
        return;                         /* counted, not stored */
    for (size_t i = 0; i < n; i++)
        quoted[i] = (text[i] >= 0x20 && text[i] < 0x7f) ? text[i] : '?';
    if (n < len)
        memcpy(quoted + n, "...", 3), n += 3;
    quoted[n] = '\0';
    o->diags[o->nr_diags].is_error = is_error;
    snprintf(o->diags[o->nr_diags].msg, CMDLINE_DIAG_MAX, "%s '%s'", what,
             quoted);
    o->nr_diags++;
}

static bool pattern_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '*' ||
           c == '?' || c == '-';
}

static void parse_selftest(struct boot_options *o, const char *v, size_t len)
{
    size_t start = 0;

    o->nr_patterns = 0;                 /* the last selftest= wins */
    o->selftest_given = true;
    if (len == 0) {
        add_diag(o, true, "selftest= needs a value, e.g.", "selftest=all", 12);
        return;
    }
    while (start <= len) {
        size_t end = start;
        const char *p = v + start;
        size_t plen;

        while (end < len && v[end] != ',')
            end++;
        plen = end - start;
        start = end + 1;
        if (plen == 0) {
            add_diag(o, true, "empty pattern in selftest=", v, len);
            continue;
        }
        if (plen >= CMDLINE_PATTERN_MAX) {
            add_diag(o, true, "selftest pattern longer than 63 bytes:", p, plen);
            continue;
        }
        bool ok = true;
        for (size_t i = 0; i < plen; i++)
            ok &= pattern_char_ok(p[i]);
        if (!ok) {
            add_diag(o, true, "invalid character in selftest pattern", p, plen);
            continue;
        }
        if (plen == 4 && !memcmp(p, "none", 4))
            continue;
        if (o->nr_patterns == CMDLINE_MAX_PATTERNS) {
            add_diag(o, true, "more than 32 selftest patterns; dropped", p,
                     plen);
            continue;
        }
        if (plen == 3 && !memcmp(p, "all", 3))
            p = "*", plen = 1;
        memcpy(o->patterns[o->nr_patterns], p, plen);
        o->patterns[o->nr_patterns][plen] = '\0';
        o->nr_patterns++;
    }
}

static bool parse_range(struct boot_options *o, const char *key,
                        const char *v, size_t len, uint64_t lo, uint64_t hi,
                        uint64_t *out)
{
    char what[64];

    if (parse_u64(v, len, out) && *out >= lo && *out <= hi)
        return true;
    snprintf(what, sizeof(what), "%s= wants a number in %lu..%lu, not", key,
             (unsigned long)lo, (unsigned long)hi);
    add_diag(o, true, what, v, len);
    return false;
}

static void parse_console(struct boot_options *o, const char *v, size_t len)
{
    unsigned int sinks = 0;
    size_t start = 0;

    while (start <= len) {
        size_t end = start;
        while (end < len && v[end] != ',')
            end++;
        if (end - start == 3 && !memcmp(v + start, "xen", 3))
            sinks |= CONSOLE_XEN;
        else if (end - start == 2 && !memcmp(v + start, "e9", 2))
            sinks |= CONSOLE_E9;
        else {
            add_diag(o, true, "console= takes xen and/or e9, not", v, len);
            return;
        }
        start = end + 1;
    }
    o->console = sinks;
}

struct choice {
    const char *name;
    int value;
};

/* One of a fixed set of words; anything else is an error naming them. */
static bool parse_choice(struct boot_options *o, const char *what,
                         const struct choice *c, size_t n, const char *v,
                         size_t len, int *out)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(c[i].name) == len && !memcmp(c[i].name, v, len)) {
            *out = c[i].value;
            return true;
        }
    }
    add_diag(o, true, what, v, len);
    return false;
}

static void parse_exit(struct boot_options *o, const char *v, size_t len)
{
    static const struct choice modes[] = {
        { "qemu", EXIT_QEMU }, { "poweroff", EXIT_POWEROFF },
        { "reboot", EXIT_REBOOT }, { "halt", EXIT_HALT },
    };
    int m;

    if (parse_choice(o, "exit= takes qemu, poweroff, reboot or halt, not",
                     modes, ARRAY_SIZE(modes), v, len, &m))
        o->exit = m;
}

static void parse_upcall(struct boot_options *o, const char *v, size_t len)
{
    static const struct choice modes[] = {
        { "auto", UPCALL_AUTO }, { "callback", UPCALL_CALLBACK },
    };
    int m;

    if (parse_choice(o, "upcall= takes auto or callback, not", modes,
                     ARRAY_SIZE(modes), v, len, &m))
        o->upcall = m;
}

static void parse_evtchn(struct boot_options *o, const char *v, size_t len)
{
    static const struct choice modes[] = {
        { "auto", EVTCHN_AUTO }, { "fifo", EVTCHN_FIFO }, { "2l", EVTCHN_2L },
    };
    int m;

    if (parse_choice(o, "evtchn= takes auto, fifo or 2l, not", modes,
                     ARRAY_SIZE(modes), v, len, &m))
        o->evtchn = m;
}

/* offline=N[,N...]: vCPUs 1..MAX_VCPUS-1 to take offline once all are up. */
static void parse_offline(struct boot_options *o, const char *v, size_t len)
{
    struct cpumask mask = { { 0 } };
    uint64_t n;
    size_t start = 0;

    BUILD_BUG_ON(MAX_VCPUS != 128);     /* the message below says 1..127 */
    while (start <= len) {
        size_t end = start;
        while (end < len && v[end] != ',')
            end++;
        if (!parse_u64(v + start, end - start, &n) || n < 1 ||
            n >= MAX_VCPUS) {
            add_diag(o, true, "offline= takes vCPU numbers 1..127, not", v,
                     len);
            return;
        }
        cpumask_set(&mask, n);
        start = end + 1;
    }
    o->offline = mask;
}

static bool key_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && !memcmp(k, name, klen);
}

static void parse_option(struct boot_options *o, const char *tok, size_t len)
{
    const char *eq = memchr(tok, '=', len);
    size_t klen = eq ? (size_t)(eq - tok) : len;
    const char *v = eq ? eq + 1 : tok + len;
    size_t vlen = eq ? len - klen - 1 : 0;
    uint64_t n;

    if (key_is(tok, klen, "selftest")) {
        parse_selftest(o, v, vlen);
    } else if (key_is(tok, klen, "iterations")) {
        if (parse_range(o, "iterations", v, vlen, 1, ITERATIONS_MAX, &n))
            o->iterations = n;
    } else if (key_is(tok, klen, "bound_scale")) {
        if (parse_range(o, "bound_scale", v, vlen, 1, BOUND_SCALE_MAX, &n))
            o->bound_scale = n;
    } else if (key_is(tok, klen, "loglevel")) {
        if (parse_range(o, "loglevel", v, vlen, 0, LOGLEVEL_MAX, &n))
            o->loglevel = n;
    } else if (key_is(tok, klen, "console")) {
        parse_console(o, v, vlen);
    } else if (key_is(tok, klen, "exit")) {
        parse_exit(o, v, vlen);
    } else if (key_is(tok, klen, "upcall")) {
        parse_upcall(o, v, vlen);
    } else if (key_is(tok, klen, "evtchn")) {
        parse_evtchn(o, v, vlen);
    } else if (key_is(tok, klen, "offline")) {
        parse_offline(o, v, vlen);
    } else if (key_is(tok, klen, "torture")) {
        if (parse_range(o, "torture", v, vlen, 1, TORTURE_S_MAX, &n))
            o->torture_s = n;
    } else if (key_is(tok, klen, "seed")) {
        if (parse_range(o, "seed", v, vlen, 0, UINT64_MAX, &n)) {
            o->seed = n;
            o->seed_given = true;
        }
    } else if (key_is(tok, klen, "pvspin")) {
        if (parse_range(o, "pvspin", v, vlen, PVLOCK_SPIN_MIN,
                        PVLOCK_SPIN_MAX, &n))
            o->pvspin = n;
    } else {
        add_diag(o, false, "unknown option ignored:", tok, len);
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

unsigned int cmdline_parse(const char *line, size_t max, struct boot_options *o)
{
    size_t len = strnlen(line, max), i = 0;

    memset(o, 0, sizeof(*o));
    o->iterations = 1;
    o->bound_scale = 1;
    o->loglevel = LOGLEVEL_DEFAULT;
    o->console = CONSOLE_XEN;
    o->exit = EXIT_POWEROFF;

    if (len == max && max) {
        add_diag(o, true, "command line longer than its limit; it starts",
                 line, len);
    } else if (max && len == max - 1) {
        /* Loaders cut at their own limit (Xen: 1023 bytes): a line that
         * fills the buffer exactly may have lost its end.  Said first, so
         * it is not lost behind the problems the cut itself causes. */
        add_diag(o, false, "command line fills its whole buffer, so its end"
                 " may have been cut; it ends", line + len - MIN(len, 24),
                 MIN(len, 24));
    }
    while (i < len) {
        size_t start;

        while (i < len && is_space(line[i]))
            i++;
        start = i;
        while (i < len && !is_space(line[i]))
            i++;
        if (i > start)
            parse_option(o, line + start, i - start);
    }
    return o->nr_errors;
}

void cmdline_error(struct boot_options *o, const char *what)
{
    add_diag(o, true, what, "", 0);
}


