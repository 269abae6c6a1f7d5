/*
 * Parsing helpers for untrusted text (the command line).  No kernel
 * dependencies: tests/host builds this file on the host as it is.
 */
#include <xenith/string.h>

bool glob_match(const char *p, const char *s)
{
    const char *star = NULL, *resume = NULL;

    /* Iterative: a '*' remembers where to retry, so no recursion depth
     * depends on the (user-supplied) pattern. */
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == '?' || *p == *s) {
            p++, s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return !*p;
}

bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0, base = 10;
    size_t i = 0;

    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        base = 16, i = 2;
    if (i == len)
        return false;
    for (; i < len; i++) {
        unsigned int d;
        char c = s[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (base == 16 && c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;               /* overflow */
        v = v * base + d;
    }
    *out = v;
    return true;
}
