/*
 * printk with levels.  As in Linux, a message prints when its level is
 * below loglevel= (default 7: everything but debug; 8 adds debug, 0
 * silences all).  ktap() output is the test protocol and always prints.
 */
#ifndef XENITH_PRINTK_H
#define XENITH_PRINTK_H

#include <xenith/types.h>
#include <xenith/compiler.h>

enum log_level {
    LOG_EMERG = 0, LOG_ALERT, LOG_CRIT, LOG_ERR,
    LOG_WARN, LOG_NOTICE, LOG_INFO, LOG_DEBUG,
};

#define LOGLEVEL_DEFAULT 7
#define LOGLEVEL_MAX     8
extern int console_loglevel;

void printk(int level, const char *fmt, ...) __printf(2, 3);
void vprintk(int level, const char *fmt, va_list ap);
void ktap(const char *fmt, ...) __printf(1, 2);

#define pr_emerg(...)  printk(LOG_EMERG, __VA_ARGS__)
#define pr_err(...)    printk(LOG_ERR, __VA_ARGS__)
#define pr_warn(...)   printk(LOG_WARN, __VA_ARGS__)
#define pr_notice(...) printk(LOG_NOTICE, __VA_ARGS__)
#define pr_info(...)   printk(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)  printk(LOG_DEBUG, __VA_ARGS__)

#endif
