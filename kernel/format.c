/*
 * vsnprintf and snprintf: C's printf conversions d i u o x X c s p %,
 * with the flags - 0 # + space, a width and a precision (digits or *),
 * and the length modifiers hh h l ll z j t.  No floating point: the
 * kernel is built without SSE.
 *
 * Why all of C's syntax, when the kernel's messages need little of it:
 * gcc checks every format against its arguments by C's rules, so a flag
 * it accepts and this code did not parse would take the wrong argument
 * from then on, and %s would read a pointer that is not one (a hang
 * report's %#llx did exactly that).  Output matches the host libc's for
 * all of the above except %p, which always prints 0x and 16 hex digits
 * (tests/host/test_format.c compares the two).
 */
#include <xenith/string.h>

struct outbuf {
    char *buf;
    size_t size, len;           /* len: what a big enough buffer would hold */
};

struct spec {
    bool left, zero, alt, plus, space;
    int width;
    int precision;              /* -1: none given */
    int lng;                    /* 0: int; 1+: long, long long, size_t... */
    int half;                   /* 1: h (short); 2: hh (char) */
};

static void put(struct outbuf *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void pad(struct outbuf *o, char c, int n)
{
    for (; n > 0; n--)
        put(o, c);
}

/* One integer: [spaces][sign or prefix][zeros][digits][spaces]. */
static void put_num(struct outbuf *o, uint64_t v, unsigned int base,
                    bool neg, const struct spec *sp, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    const char *prefix = "";
    int n = 0, zeros, len;

    if (v || sp->precision != 0)        /* %.0d of 0 prints no digit */
        do {
            tmp[n++] = digits[v % base];
            v /= base;
        } while (v);
    if (neg)
        prefix = "-";
    else if (sp->plus && base == 10)
        prefix = "+";
    else if (sp->space && base == 10)
        prefix = " ";
    else if (sp->alt && base == 16 && n && !(n == 1 && tmp[0] == '0'))
        prefix = upper ? "0X" : "0x";
    zeros = sp->precision > n ? sp->precision - n : 0;
    if (sp->alt && base == 8 && !zeros && (n == 0 || tmp[n - 1] != '0'))
        zeros = 1;                      /* %#o: a leading 0 */
    len = (int)strlen(prefix) + zeros + n;
    if (!sp->left && !(sp->zero && sp->precision < 0))
        pad(o, ' ', sp->width - len);
    while (*prefix)
        put(o, *prefix++);
    if (!sp->left && sp->zero && sp->precision < 0)
        pad(o, '0', sp->width - len);
    pad(o, '0', zeros);
    while (n)
        put(o, tmp[--n]);
    if (sp->left)
        pad(o, ' ', sp->width - len);
}

static void put_str(struct outbuf *o, const char *s, const struct spec *sp)
{
    int len;

    if (!s)
        s = "(null)";
    len = (int)(sp->precision >= 0 ? strnlen(s, (size_t)sp->precision)
                                   : strlen(s));
    if (!sp->left)
        pad(o, ' ', sp->width - len);
    for (int i = 0; i < len; i++)
        put(o, s[i]);
    if (sp->left)
        pad(o, ' ', sp->width - len);
}

/* Flags, width, precision and length of one conversion; returns where
 * its conversion letter is. */
static const char *parse_spec(const char *fmt, struct spec *sp, va_list *ap)
{
    *sp = (struct spec){ .precision = -1 };
    for (;; fmt++) {
        if (*fmt == '-')
            sp->left = true;
        else if (*fmt == '0')
            sp->zero = true;
        else if (*fmt == '#')
            sp->alt = true;
        else if (*fmt == '+')
            sp->plus = true;
        else if (*fmt == ' ')
            sp->space = true;
        else
            break;
    }
    if (*fmt == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {            /* C: a negative * width is '-' */
            sp->left = true;
            sp->width = -sp->width;
        }
        fmt++;
    }
    while (*fmt >= '0' && *fmt <= '9')
        sp->width = sp->width * 10 + (*fmt++ - '0');
    if (*fmt == '.') {
        fmt++;
        sp->precision = 0;
        if (*fmt == '*') {
            sp->precision = va_arg(*ap, int);
            if (sp->precision < 0)      /* C: as if none was given */
                sp->precision = -1;
            fmt++;
        }
        while (*fmt >= '0' && *fmt <= '9')
            sp->precision = sp->precision * 10 + (*fmt++ - '0');
    }
    for (;; fmt++) {
        if (*fmt == 'l' || *fmt == 'z' || *fmt == 'j' || *fmt == 't')
            sp->lng++;
        else if (*fmt == 'h')
            sp->half++;
        else
            break;
    }
    return fmt;
}

static int64_t signed_arg(const struct spec *sp, va_list *ap)
{
    int64_t v = sp->lng ? va_arg(*ap, int64_t) : va_arg(*ap, int);

    if (sp->half == 1)
        return (short)v;
    if (sp->half >= 2)
        return (signed char)v;
    return v;
}

static uint64_t unsigned_arg(const struct spec *sp, va_list *ap)
{
    uint64_t v = sp->lng ? va_arg(*ap, uint64_t) : va_arg(*ap, unsigned int);

    if (sp->half == 1)
        return (unsigned short)v;
    if (sp->half >= 2)
        return (unsigned char)v;
    return v;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
    struct outbuf o = { buf, size, 0 };
    struct spec sp;
    va_list ap;

    va_copy(ap, ap_in);
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt = parse_spec(fmt + 1, &sp, &ap);
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = signed_arg(&sp, &ap);
            put_num(&o, v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, &sp,
                    false);
            break;
        }
        case 'u':
            put_num(&o, unsigned_arg(&sp, &ap), 10, false, &sp, false);
            break;
        case 'o':
            put_num(&o, unsigned_arg(&sp, &ap), 8, false, &sp, false);
            break;
        case 'x':
        case 'X':
            put_num(&o, unsigned_arg(&sp, &ap), 16, false, &sp, *fmt == 'X');
            break;
        case 'p': {
            /* 0x and always 16 digits: addresses line up in a backtrace. */
            struct spec p = { .precision = 16 };
            put(&o, '0');
            put(&o, 'x');
            put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false,
                    &p, false);
            break;
        }
        case 's':
            put_str(&o, va_arg(ap, const char *), &sp);
            break;
        case 'c':
            if (!sp.left)
                pad(&o, ' ', sp.width - 1);
            put(&o, (char)va_arg(ap, int));
            if (sp.left)
                pad(&o, ' ', sp.width - 1);
            break;
        case '%':
            put(&o, '%');
            break;
        case '\0':                      /* a lone % at the end */
            fmt--;
            break;
        default:                        /* unknown: shown, no argument used */
            put(&o, '%');
            put(&o, *fmt);
        }
    }
    va_end(ap);
    if (size)
        buf[o.len < size ? o.len : size - 1] = '\0';
    return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
