/* printk: format on the stack, hand the whole message to the console. */
#include <xenith/printk.h>
#include <xenith/console.h>
#include <xenith/string.h>

int console_loglevel = LOGLEVEL_DEFAULT;

#define PRINTK_MAX 512

static void emit(const char *fmt, va_list ap)
{
    char buf[PRINTK_MAX];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);

    if (n >= (int)sizeof(buf)) {
        /* Say it was cut rather than lose the end silently. */
        n = sizeof(buf) - 1;
        memcpy(buf + n - 5, "...\n", 5);
        n--;
    }
    console_write(buf, n);
}

void vprintk(int level, const char *fmt, va_list ap)
{
    if (level >= console_loglevel)
        return;
    emit(fmt, ap);
}

void printk(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(level, fmt, ap);
    va_end(ap);
}

void ktap(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(fmt, ap);
    va_end(ap);
}
