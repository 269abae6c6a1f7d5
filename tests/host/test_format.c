/*
 * kernel/format.c against the host's libc: every format below, with each
 * of its values, must give the same text and the same length, whole and
 * truncated to every buffer size.  Built with the kernel's vsnprintf and
 * snprintf renamed (Makefile), so both are in one program.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int xk_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int failures, checks;

static void same(const char *what, const char *want, int want_n,
                 const char *got, int got_n)
{
    checks++;
    if (want_n == got_n && !strcmp(want, got))
        return;
    failures++;
    printf("FAIL %s: libc \"%s\" (%d), kernel \"%s\" (%d)\n", what, want,
           want_n, got, got_n);
}

/* Each format with one argument of the type it names, through both. */
#define CHECK(fmt, ...)                                                    \
    do {                                                                   \
        char w[128], g[128];                                               \
        int wn = snprintf(w, sizeof(w), fmt, __VA_ARGS__);                 \
        int gn = xk_snprintf(g, sizeof(g), fmt, __VA_ARGS__);              \
        same(fmt, w, wn, g, gn);                                           \
        for (size_t sz = 0; sz < (size_t)wn + 2 && sz < sizeof(w); sz++) { \
            char wt[128], gt[128];                                         \
            memset(wt, 'Z', sizeof(wt));                                   \
            memset(gt, 'Z', sizeof(gt));                                   \
            wn = snprintf(wt, sz, fmt, __VA_ARGS__);                       \
            gn = xk_snprintf(gt, sz, fmt, __VA_ARGS__);                    \
            checks++;                                                      \
            if (memcmp(wt, gt, sizeof(wt)) || wn != gn) {                  \
                failures++;                                                \
                printf("FAIL %s truncated to %zu\n", fmt, sz);             \
            }                                                              \
        }                                                                  \
    } while (0)

static const int ints[] = { 0, 1, -1, 7, 42, -42, 255, 4096, 2147483647,
                            -2147483647 - 1 };
static const long long longs[] = { 0, 1, -1, 1234567890123LL, -99,
                                   INT64_MAX, INT64_MIN };
static const char *const strs[] = { "", "a", "hello", "xenith kernel" };

int main(void)
{
    static const char *const int_fmts[] = {
        "%d", "%i", "%5d", "%-5d|", "%05d", "%+d", "% d", "%.3d", "%8.3d",
        "%-8.3d|", "%.0d", "%+05d", "%x", "%X", "%#x", "%#X", "%#010x",
        "%#.4x", "%08x", "%-#8x|", "%o", "%#o", "%#.0o", "%u", "%10u",
        "%hd", "%hhd", "%hu", "%hhx", "%c", "%3c", "%-3c|", "%%%d%%",
    };
    static const char *const long_fmts[] = {
        "%lld", "%llu", "%llx", "%#llx", "%20lld", "%-20lld|", "%+lld",
        "%.20lld", "%lX", "%ld", "%zu", "%jd", "%016llx",
    };
    static const char *const str_fmts[] = {
        "%s", "%10s", "%-10s|", "%.3s", "%10.2s", "%-6.1s|", "%.0s", "[%s]",
    };

    /* The formats come from tables: gcc cannot check them here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
    for (size_t f = 0; f < sizeof(int_fmts) / sizeof(*int_fmts); f++)
        for (size_t v = 0; v < sizeof(ints) / sizeof(*ints); v++) {
            if (strstr(int_fmts[f], "c") && (ints[v] < 32 || ints[v] > 126))
                continue;               /* only printable chars for %c */
            CHECK(int_fmts[f], ints[v]);
        }
    for (size_t f = 0; f < sizeof(long_fmts) / sizeof(*long_fmts); f++)
        for (size_t v = 0; v < sizeof(longs) / sizeof(*longs); v++)
            CHECK(long_fmts[f], longs[v]);
    for (size_t f = 0; f < sizeof(str_fmts) / sizeof(*str_fmts); f++)
        for (size_t v = 0; v < sizeof(strs) / sizeof(*strs); v++)
            CHECK(str_fmts[f], strs[v]);
#pragma GCC diagnostic pop
    /* * width and precision, and a negative * width (left-justified). */
    CHECK("%*d|", 6, 42);
    CHECK("%*d|", -6, 42);
    CHECK("%.*s|", 2, "abcdef");
    CHECK("%.*s|", -1, "abcdef");
    CHECK("%*.*x|", 8, 4, 0xabu);
    /* Several conversions in one: the arguments stay in step (a flag
     * the parser skipped used to shift every later one). */
    CHECK("%#llx %s %d", 0x1ULL, "after", 3);
    CHECK("%+d %#o %s %c", 5, 8u, "x", 'q');
    {
        /* %p is the kernel's own: 0x and 16 digits, NULL too. */
        char g[64];
        int n = xk_snprintf(g, sizeof(g), "%p|%p", (void *)0x1234,
                            (void *)0);
        same("%p", "0x0000000000001234|0x0000000000000000", 37, g, n);
    }
    printf("format: %d checks, %d failed\n", checks, failures);
    return failures != 0;
}
