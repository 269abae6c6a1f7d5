/*
 * panic: the last words of a run.  Prints the reason, the registers (for
 * an exception), a backtrace symbolised from the built-in symbol table,
 * then leaves with the panic verdict.  It first puts the console in
 * emergency mode (no lock: the panicking vCPU may hold it), so it prints
 * with ktap() like everything else, and guards against panicking again.
 */
#include <xenith/panic.h>
#include <xenith/printk.h>
#include <xenith/console.h>
#include <xenith/ksyms.h>
#include <xenith/percpu.h>
#include <xenith/selftest.h>
#include <xenith/string.h>
#include <xenith/traps.h>
#include <xenith/x86.h>

#define BACKTRACE_DEPTH 24

static int panicking;

/* A return address is looked up one byte back: a call that ends its
 * function would otherwise be named after the next function. */
static void say_symbol(const char *prefix, uint64_t addr, bool is_return)
{
    uint64_t off;
    const char *name = ksym_lookup(addr - is_return, &off);

    if (name)
        ktap("%s%016lx %s+0x%lx\n", prefix, addr, name, off + is_return);
    else
        ktap("%s%016lx ?\n", prefix, addr);
}

/* Walk the frame-pointer chain; every frame must lie on this vCPU's stack
 * and move upwards, so a corrupt chain ends the walk instead of faulting. */
void backtrace_from(uint64_t rip, uint64_t rbp)
{
    ktap("Call trace:\n");
    say_symbol("  ", rip, false);
    for (int depth = 0; depth < BACKTRACE_DEPTH && rbp; depth++) {
        uint64_t *frame = (uint64_t *)rbp;

        if ((rbp & 7) || !stack_contains(rbp, rbp + 16))
            break;
        if (!frame[1])
            break;
        say_symbol("  ", frame[1], true);
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
}

static void dump_regs(const struct cpu_regs *r)
{
    ktap("RIP: %016lx  CS: %04lx  RFLAGS: %016lx\n", r->rip, r->cs, r->rflags);
    say_symbol("RIP is at ", r->rip, false);
    ktap("RSP: %016lx  SS: %04lx  vector: %lu  error: %lx\n", r->rsp, r->ss,
        r->vector, r->error_code);
    ktap("RAX: %016lx RBX: %016lx RCX: %016lx\n", r->rax, r->rbx, r->rcx);
    ktap("RDX: %016lx RSI: %016lx RDI: %016lx\n", r->rdx, r->rsi, r->rdi);
    ktap("RBP: %016lx R8:  %016lx R9:  %016lx\n", r->rbp, r->r8, r->r9);
    ktap("R10: %016lx R11: %016lx R12: %016lx\n", r->r10, r->r11, r->r12);
    ktap("R13: %016lx R14: %016lx R15: %016lx\n", r->r13, r->r14, r->r15);
    ktap("CR0: %016lx CR2: %016lx CR3: %016lx CR4: %016lx\n", read_cr0(),
        read_cr2(), read_cr3(), read_cr4());
}

static void __noreturn vpanic(const struct cpu_regs *r, uint64_t rip,
                              uint64_t rbp, const char *fmt, va_list ap)
{
    char msg[256];

    irq_disable();
    if (__atomic_fetch_add(&panicking, 1, __ATOMIC_SEQ_CST)) {
        /* Panic inside panic: no more formatting, just leave. */
        early_puts("xenith: nested panic\n");
        verdict_exit(VERDICT_PANIC);
    }
    console_emergency();
    vsnprintf(msg, sizeof(msg), fmt, ap);
    ktap("\nPANIC on vCPU%u: %s\n", this_cpu() ? this_cpu()->cpu_id : 0, msg);
    if (r) {
        dump_regs(r);
        backtrace_from(r->rip, r->rbp);
        /* A fault in a function's first instructions happens before it
         * pushed its frame: its caller is then only in the word at RSP. */
        if (stack_contains(r->rsp, r->rsp + 8))
            say_symbol("  (top of stack, maybe the caller) ",
                       *(uint64_t *)r->rsp, true);
    } else {
        backtrace_from(rip, rbp);
    }
    selftest_panic_report();
    ktap("Test result: FAILURE\n");
    verdict_exit(VERDICT_PANIC);
}

void panic(const char *fmt, ...)
{
    uint64_t *fp = __builtin_frame_address(0);
    va_list ap;

    va_start(ap, fmt);
    /* Start the trace at our caller: fp[1] is where panic() was called
     * from, fp[0] the caller's frame. */
    vpanic(NULL, fp[1], fp[0], fmt, ap);
}

void panic_regs(const struct cpu_regs *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vpanic(r, 0, 0, fmt, ap);
}

void early_fatal(const char *msg)
{
    early_puts("xenith: ");
    early_puts(msg);
    early_puts("\n");
    verdict_exit(VERDICT_FAIL);
}
