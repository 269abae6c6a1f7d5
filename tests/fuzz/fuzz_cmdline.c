/*
 * cmdline: the whole option parser (kernel/cmdline.c) and the selftest=
 * pattern matcher (glob_match, kernel/parse.c) on arbitrary bytes.
 *
 * Input: the command line up to the first NUL (without one, the buffer
 * ends exactly where the input does, as a line that fills the loader's
 * limit would), then NUL-separated test names for the matcher.
 *
 * Properties (each aborts when it does not hold):
 *  - the parser writes nothing outside struct boot_options (canaries;
 *    ASan for reads past the line);
 *  - every option it accepted round-trips: the options rendered back into
 *    a command line parse without a diagnostic to the same options;
 *  - every token is judged alone as it is in the line: the line's errors
 *    and warnings are the sum of its tokens' (plus one for a line at its
 *    limit), so no token's problem goes unreported or is counted twice;
 *  - every stored diagnostic ends with its quoted text whole, and that
 *    text is in the line (non-printables shown as '?', long text cut
 *    with "...");
 *  - counters stay in range; stored patterns are valid and terminated;
 *  - glob_match agrees with a plain dynamic-programming matcher.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenith/cmdline.h>
#include <xenith/console.h>
#include <xenith/printk.h>
#include <xenith/pvlock.h>
#include <xenith/string.h>

#define LINE_MAX_FUZZ 1100        /* Xen passes 1023 bytes at most */
#define CANARY 0x5a5a5a5a5a5a5a5aull

static struct {
    uint64_t pre[4];
    struct boot_options o;
    uint64_t post[4];
} guarded;

static struct boot_options again;

FUZZ_ORACLE static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

FUZZ_ORACLE static void parse_guarded(const char *line, size_t max)
{
    for (int i = 0; i < 4; i++)
        guarded.pre[i] = guarded.post[i] = CANARY;
    cmdline_parse(line, max, &guarded.o);
    for (int i = 0; i < 4; i++)
        FUZZ_CHECK(guarded.pre[i] == CANARY && guarded.post[i] == CANARY,
                   "write outside struct boot_options");
}

FUZZ_ORACLE static void check_sane(const struct boot_options *o)
{
    FUZZ_CHECK(o->nr_patterns <= CMDLINE_MAX_PATTERNS, "%u patterns",
               o->nr_patterns);
    FUZZ_CHECK(o->nr_diags <= CMDLINE_MAX_DIAGS, "%u diags", o->nr_diags);
    FUZZ_CHECK(o->nr_diags == MIN(o->nr_errors + o->nr_warnings,
                                  (unsigned int)CMDLINE_MAX_DIAGS),
               "%u diags stored for %u errors and %u warnings", o->nr_diags,
               o->nr_errors, o->nr_warnings);
    FUZZ_CHECK(o->iterations >= 1 && o->iterations <= ITERATIONS_MAX,
               "iterations %u", o->iterations);
    FUZZ_CHECK(o->loglevel >= 0 && o->loglevel <= LOGLEVEL_MAX, "loglevel %d",
               o->loglevel);
    FUZZ_CHECK(o->console && !(o->console & ~(CONSOLE_XEN | CONSOLE_E9)),
               "console %#x", o->console);
    FUZZ_CHECK(!o->pvspin || (o->pvspin >= PVLOCK_SPIN_MIN &&
                              o->pvspin <= PVLOCK_SPIN_MAX),
               "pvspin %u", o->pvspin);
    FUZZ_CHECK(o->torture_s <= TORTURE_S_MAX, "torture %u", o->torture_s);
    FUZZ_CHECK(o->seed_given || !o->seed, "seed %lu not given",
               (unsigned long)o->seed);
    FUZZ_CHECK(!(o->offline.w[0] & 1), "vCPU 0 offline");
    for (unsigned int i = 0; i < o->nr_patterns; i++) {
        size_t n = strnlen(o->patterns[i], CMDLINE_PATTERN_MAX);
        FUZZ_CHECK(n > 0 && n < CMDLINE_PATTERN_MAX, "pattern %u: %zu bytes",
                   i, n);
        FUZZ_CHECK(strcmp(o->patterns[i], "none") != 0, "none stored");
    }
}

/* Does the diagnostic's quoted text q (n bytes; '?' stands for a byte
 * that was not printable) occur in line? */
FUZZ_ORACLE static bool quoted_in(const char *q, size_t n, const char *line, size_t len)
{
    if (n == 0)
        return true;
    for (size_t at = 0; at + n <= len; at++) {
        size_t i;

        if (q[0] != '?') {              /* skip to the next candidate */
            const char *c = memchr(line + at, q[0], len - n + 1 - at);
            if (!c)
                return false;
            at = (size_t)(c - line);
        }
        for (i = 0; i < n; i++) {
            char c = line[at + i];
            bool printable = c >= 0x20 && c < 0x7f;
            if (printable ? c != q[i] : q[i] != '?')
                break;
        }
        if (i == n)
            return true;
    }
    return false;
}

FUZZ_ORACLE static void check_diags(const struct boot_options *o, const char *line,
                        size_t len)
{
    for (unsigned int i = 0; i < o->nr_diags; i++) {
        const char *m = o->diags[i].msg;
        size_t ml = strnlen(m, CMDLINE_DIAG_MAX);
        const char *open = memchr(m, '\'', ml);

        FUZZ_CHECK(ml < CMDLINE_DIAG_MAX, "diag %u not terminated", i);
        FUZZ_CHECK(open && ml >= 2 && m[ml - 1] == '\'' && open < m + ml - 1,
                   "diag %u lost its quoted text: \"%s\"", i, m);
        const char *q = open + 1;
        size_t qn = (size_t)(m + ml - 1 - q);
        if (qn >= 3 && !memcmp(q + qn - 3, "...", 3))
            qn -= 3;                    /* cut: the rest is in the line */
        FUZZ_CHECK(quoted_in(q, qn, line, len) ||
                   (qn == 12 && !memcmp(q, "selftest=all", 12)),
                   "diag %u quotes text not in the line: \"%s\"", i, m);
    }
}

/* The options as a command line; each given only if not the default. */
FUZZ_ORACLE static size_t render(const struct boot_options *o, char *buf, size_t cap)
{
    static const char *const exits[] = { "poweroff", "qemu", "reboot", "halt" };
    static const char *const upcalls[] = { "auto", "callback" };
    static const char *const evtchns[] = { "auto", "fifo", "2l" };
    size_t n = 0;

#define PUT(...) (n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__))
    if (o->selftest_given) {
        PUT("selftest=");
        if (!o->nr_patterns)
            PUT("none");
        for (unsigned int i = 0; i < o->nr_patterns; i++)
            PUT("%s%s", i ? "," : "", o->patterns[i]);
        PUT(" ");
    }
    PUT("iterations=%u loglevel=%d console=%s%s%s exit=%s upcall=%s "
        "evtchn=%s", o->iterations, o->loglevel,
        o->console & CONSOLE_XEN ? "xen" : "",
        o->console == (CONSOLE_XEN | CONSOLE_E9) ? "," : "",
        o->console & CONSOLE_E9 ? "e9" : "", exits[o->exit],
        upcalls[o->upcall], evtchns[o->evtchn]);
    if (!cpumask_empty(&o->offline)) {
        const char *sep = " offline=";
        for (unsigned int c = 0; c < MAX_VCPUS; c++)
            if (cpumask_test(&o->offline, c)) {
                PUT("%s%u", sep, c);
                sep = ",";
            }
    }
    if (o->pvspin)
        PUT(" pvspin=%u", o->pvspin);
    if (o->torture_s)
        PUT(" torture=%u", o->torture_s);
    if (o->seed_given)
        PUT(" seed=%lu", (unsigned long)o->seed);
#undef PUT
    FUZZ_CHECK(n < cap, "rendering overflowed");
    return n;
}

FUZZ_ORACLE static bool same_patterns(const struct boot_options *a,
                          const struct boot_options *b)
{
    for (unsigned int i = 0; i < a->nr_patterns; i++)
        if (strcmp(a->patterns[i], b->patterns[i]))
            return false;
    return true;
}

FUZZ_ORACLE static void check_round_trip(const struct boot_options *o)
{
    static char buf[4096];
    render(o, buf, sizeof(buf));

    cmdline_parse(buf, sizeof(buf), &again);
    FUZZ_CHECK(again.nr_errors == 0 && again.nr_warnings == 0,
               "rendered options do not parse cleanly: \"%s\" -> \"%s\"", buf,
               again.nr_diags ? again.diags[0].msg : "");
    FUZZ_CHECK(again.selftest_given == o->selftest_given &&
               again.nr_patterns == o->nr_patterns &&
               same_patterns(&again, o) &&
               again.iterations == o->iterations &&
               again.loglevel == o->loglevel && again.console == o->console &&
               again.exit == o->exit && again.upcall == o->upcall &&
               again.evtchn == o->evtchn &&
               !memcmp(&again.offline, &o->offline, sizeof(o->offline)) &&
               again.pvspin == o->pvspin &&
               again.torture_s == o->torture_s &&
               again.seed_given == o->seed_given && again.seed == o->seed,
               "options do not round-trip through \"%s\"", buf);
}

/*
 * A token judged alone, remembered: cmdline_parse of one token is a pure
 * function of its bytes, and libFuzzer's mutants of a line share most of
 * its tokens, so each distinct short token is parsed alone once, not once
 * per line it is in (that took most of the executions).  Exact: the key
 * is the whole token; a longer one is parsed every time.
 */
#define TOKEN_CACHE     (1u << 14)
#define TOKEN_CACHE_MAX 47

static struct judged {
    uint8_t len;                        /* 0: empty slot */
    char tok[TOKEN_CACHE_MAX];
    uint16_t errors, warnings;
} judged[TOKEN_CACHE];

FUZZ_ORACLE static void judge_alone(const char *tok, size_t n,
                                    unsigned int *errors,
                                    unsigned int *warnings)
{
    static char buf[LINE_MAX_FUZZ + 1];
    struct judged *j = NULL;
    uint32_t h = 2166136261u;

    if (n <= TOKEN_CACHE_MAX) {
        for (size_t i = 0; i < n; i++)
            h = (h ^ (uint8_t)tok[i]) * 16777619u;
        j = &judged[h % TOKEN_CACHE];
        if (j->len == n && !memcmp(j->tok, tok, n)) {
            *errors += j->errors;
            *warnings += j->warnings;
            return;
        }
    }
    memcpy(buf, tok, n);
    buf[n] = '\0';
    cmdline_parse(buf, n + 2, &again);
    FUZZ_CHECK(again.nr_errors + again.nr_warnings == 0 ||
               again.nr_diags > 0, "token '%s' rejected silently", buf);
    *errors += again.nr_errors;
    *warnings += again.nr_warnings;
    if (j) {
        j->len = (uint8_t)n;
        memcpy(j->tok, tok, n);
        j->errors = (uint16_t)again.nr_errors;
        j->warnings = (uint16_t)again.nr_warnings;
    }
}

/* Each token alone: the line's counts must be the sum of these. */
FUZZ_ORACLE static void check_per_token(const struct boot_options *o, const char *line,
                            size_t len, size_t max)
{
    unsigned int errors = 0, warnings = 0;
    size_t i = 0;

    if (max && len == max)
        errors++;
    else if (max && len == max - 1)
        warnings++;
    while (i < len) {
        size_t start;
        while (i < len && is_space(line[i]))
            i++;
        start = i;
        while (i < len && !is_space(line[i]))
            i++;
        if (i > start)
            judge_alone(line + start, i - start, &errors, &warnings);
    }
    FUZZ_CHECK(errors == o->nr_errors && warnings == o->nr_warnings,
               "line: %u errors, %u warnings; its tokens alone: %u, %u",
               o->nr_errors, o->nr_warnings, errors, warnings);
}

/* The reference: does p match all of s (dynamic programming, one row
 * kept: row[j] says whether the pattern so far matches s[0..j)). */
FUZZ_ORACLE static bool ref_match(const char *p, const char *s)
{
    size_t n = strlen(s);
    bool row[128], any = true;

    if (n >= sizeof(row))
        abort();
    row[0] = true;
    memset(row + 1, 0, n);
    for (; *p && any; p++) {
        if (*p == '*') {
            for (size_t j = 1; j <= n; j++)
                row[j] = row[j] || row[j - 1];
            continue;
        }
        any = false;
        for (size_t j = n; j >= 1; j--) {
            row[j] = row[j - 1] && (*p == '?' || *p == s[j - 1]);
            any |= row[j];
        }
        row[0] = false;
    }
    return any && row[n];
}

FUZZ_ORACLE static void check_glob(const struct boot_options *o, const char *names,
                       size_t len)
{
    static char name[100];
    size_t i = 0;

    while (i < len) {
        size_t n = strnlen(names + i, len - i);
        size_t k = MIN(n, sizeof(name) - 1);

        memcpy(name, names + i, k);
        name[k] = '\0';
        i += n + 1;
        for (unsigned int p = 0; p < o->nr_patterns; p++)
            FUZZ_CHECK(glob_match(o->patterns[p], name) ==
                       ref_match(o->patterns[p], name),
                       "glob_match(\"%s\", \"%s\") is %d", o->patterns[p],
                       name, glob_match(o->patterns[p], name));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nul;
    size_t len, max;
    char *line;

    if (size > LINE_MAX_FUZZ)
        return -1;
    nul = memchr(data, '\0', size);
    len = nul ? (size_t)((const uint8_t *)nul - data) : size;
    max = nul ? len + 1 : len;
    /* Exactly max bytes, so ASan sees any read past them. */
    line = malloc(max ? max : 1);
    memcpy(line, data, max);
    parse_guarded(line, max);
    check_sane(&guarded.o);
    check_diags(&guarded.o, line, len);
    check_per_token(&guarded.o, line, len, max);
    check_round_trip(&guarded.o);
    if (nul)
        check_glob(&guarded.o, nul + 1, size - len - 1);
    free(line);
    return 0;
}
