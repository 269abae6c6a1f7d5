#ifndef XENITH_STRING_H
#define XENITH_STRING_H

#include <xenith/types.h>

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
/* Copies at most size-1 bytes and always terminates; returns strlen(src)
 * so a caller can detect truncation (result >= size). */
size_t strlcpy(char *d, const char *s, size_t size);
/* Glob with '*' and '?', used by selftest= patterns. */
bool glob_match(const char *pat, const char *s);
/* Strict decimal/0x-hex parse of s[0..len): false on junk or overflow. */
bool parse_u64(const char *s, size_t len, uint64_t *out);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
