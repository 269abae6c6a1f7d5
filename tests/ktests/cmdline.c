/*
 * Suite `cmdline`: the parser on good, malformed and overlong input.  The
 * result struct sits between two canaries: a parser that wrote outside it
 * would be caught here (tests/host runs the same parser under ASan).
 */
#include <xenith/selftest.h>
#include <xenith/cmdline.h>
#include <xenith/console.h>
#include <xenith/mm.h>
#include <xenith/printk.h>
#include <xenith/string.h>

#define CANARY 0x5a5aa5a5c3c33c3cull

struct guarded {
    uint64_t before;
    struct boot_options o;
    uint64_t after;
};

static struct guarded *parse(const char *line, size_t max)
{
    struct guarded *g = kmalloc(sizeof(*g));

    if (!g)
        return NULL;
    g->before = g->after = CANARY;
    cmdline_parse(line, max, &g->o);
    return g;
}

static bool intact(const struct guarded *g)
{
    return g->before == CANARY && g->after == CANARY &&
           g->o.nr_diags <= CMDLINE_MAX_DIAGS &&
           g->o.nr_patterns <= CMDLINE_MAX_PATTERNS;
}

static bool has_diag(const struct boot_options *o, const char *needle)
{
    for (unsigned int i = 0; i < o->nr_diags; i++) {
        const char *m = o->diags[i].msg;
        for (; *m; m++)
            if (!strncmp(m, needle, strlen(needle)))
                return true;
    }
    return false;
}

SELFTEST(cmdline, good)
{
    struct guarded *g = parse("selftest=boot,mm.*,*.heap iterations=12 "
                              "loglevel=7 console=xen,e9 exit=reboot", 1024);
    REQUIRE(g);
    CHECK(intact(g));
    CHECK(g->o.nr_errors == 0 && g->o.nr_warnings == 0);
    CHECK(g->o.nr_patterns == 3);
    CHECK(!strcmp(g->o.patterns[1], "mm.*"));
    CHECK(g->o.iterations == 12);
    CHECK(g->o.loglevel == 7);
    CHECK(g->o.console == (CONSOLE_XEN | CONSOLE_E9));
    CHECK(g->o.exit == EXIT_REBOOT);
    kfree(g);

    g = parse("  selftest=all\t iterations=0x10  exit=qemu  ", 1024);
    REQUIRE(g);
    CHECK(g->o.nr_errors == 0);
    CHECK(g->o.nr_patterns == 1 && !strcmp(g->o.patterns[0], "*"));
    CHECK(g->o.iterations == 16 && g->o.exit == EXIT_QEMU);
    kfree(g);

    g = parse("", 1024);                    /* defaults */
    REQUIRE(g);
    CHECK(g->o.nr_errors == 0 && !g->o.selftest_given);
    CHECK(g->o.iterations == 1 && g->o.loglevel == LOGLEVEL_DEFAULT);
    CHECK(g->o.exit == EXIT_POWEROFF && g->o.console == CONSOLE_XEN);
    kfree(g);
    return TEST_RESULT();
}

SELFTEST(cmdline, malformed)
{
    static const struct { const char *line, *diag; } cases[] = {
        { "iterations=abc", "iterations=" },
        { "iterations=0", "iterations=" },
        { "iterations=99999999999999999999999", "iterations=" },
        { "iterations=", "iterations=" },
        { "loglevel=9", "loglevel=" },
        { "loglevel=-1", "loglevel=" },
        { "exit=sideways", "exit=" },
        { "console=serial", "console=" },
        { "console=", "console=" },
        { "selftest=", "selftest=" },
        { "selftest=a,,b", "empty pattern" },
        { "selftest=bo\xc3\xa9t", "invalid character" },
        { "selftest=$(reboot)", "invalid character" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct guarded *g = parse(cases[i].line, 1024);
        REQUIRE(g);
        CHECK(intact(g));
        if (g->o.nr_errors != 1 || !has_diag(&g->o, cases[i].diag)) {
            test_diag("'%s': %u errors, want 1 naming '%s'", cases[i].line,
                      g->o.nr_errors, cases[i].diag);
            CHECK(!"diagnostic");
        }
        /* A bad value leaves the default in place. */
        CHECK(g->o.iterations >= 1 && g->o.loglevel <= LOGLEVEL_MAX);
        kfree(g);
    }

    struct guarded *g = parse("frobnicate=1 selftest=boot quiet", 1024);
    REQUIRE(g);
    CHECK(g->o.nr_errors == 0 && g->o.nr_warnings == 2);
    CHECK(has_diag(&g->o, "frobnicate") && has_diag(&g->o, "quiet"));
    CHECK(g->o.nr_patterns == 1);
    kfree(g);
    return TEST_RESULT();
}

SELFTEST(cmdline, overlong)
{
    size_t big = 8192;
    char *line = kmalloc(big + 1);
    struct guarded *g;

    REQUIRE(line);
    /* One pattern longer than a pattern may be. */
    memcpy(line, "selftest=", 9);
    memset(line + 9, 'x', 200);
    line[209] = '\0';
    g = parse(line, big);
    REQUIRE(g);
    CHECK(intact(g) && g->o.nr_errors == 1 && g->o.nr_patterns == 0);
    kfree(g);

    /* More patterns than fit. */
    size_t n = snprintf(line, big, "selftest=");
    for (int i = 0; i < 40; i++)
        n += snprintf(line + n, big - n, "s%d,", i);
    line[n - 1] = '\0';
    g = parse(line, big);
    REQUIRE(g);
    CHECK(intact(g) && g->o.nr_patterns == CMDLINE_MAX_PATTERNS);
    CHECK(g->o.nr_errors == 40 - CMDLINE_MAX_PATTERNS);
    kfree(g);

    /* Thousands of unknown options: counted, never stored past the end.
     * The line fills its buffer exactly, which is warned about first. */
    for (n = 0; n + 4 <= big; n += 4)
        memcpy(line + n, "a=b ", 4);
    line[n] = '\0';
    g = parse(line, big + 1);
    REQUIRE(g);
    CHECK(intact(g) && g->o.nr_warnings == big / 4 + 1);
    CHECK(g->o.nr_diags == CMDLINE_MAX_DIAGS);
    CHECK(has_diag(&g->o, "may have been cut"));
    kfree(g);

    /* No terminator within the limit: parse what fits, report it. */
    memset(line, 'y', big);
    g = parse(line, 64);
    REQUIRE(g);
    CHECK(intact(g) && g->o.nr_errors == 1);
    kfree(g);
    kfree(line);
    return TEST_RESULT();
}
