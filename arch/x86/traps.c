/*
 * IDT and trap dispatch.  Exceptions are fatal: they print the vector,
 * error code, registers and a symbolised backtrace, then end the run with
 * the panic verdict.  Vectors from 32 up go to the handler registered for
 * them (LAPIC timer, event-channel upcall); an unregistered one is counted
 * and acknowledged.
 */
#include <xenith/traps.h>
#include <xenith/panic.h>
#include <xenith/percpu.h>
#include <xenith/printk.h>
#include <xenith/apic.h>
#include <xenith/x86.h>
#include <xenith/asm.h>

struct idt_entry {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
} __packed;

struct idt_ptr {
    uint16_t limit;
    uint64_t base;
} __packed;

extern char isr_stubs[];
static struct idt_entry idt[256] __aligned(16);
static irq_vector_handler_t vector_handlers[256];
static uint64_t spurious_vectors;

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
    "#OF overflow", "#BR bound range", "#UD invalid opcode",
    "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault",
    "#GP general protection", "#PF page fault", "reserved",
    "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualisation", "#CP control protection",
};

static void idt_set(unsigned int vec, uint8_t ist)
{
    uint64_t off = (uint64_t)isr_stubs + vec * 16;

    idt[vec] = (struct idt_entry){
        .off_lo = off & 0xffff, .sel = GDT_KCODE, .ist = ist,
        .type = 0x8e,           /* present, DPL0, 64-bit interrupt gate */
        .off_mid = (off >> 16) & 0xffff, .off_hi = off >> 32,
    };
}

void traps_init(void)
{
    for (unsigned int v = 0; v < 256; v++)
        idt_set(v, 0);
    /* Faults that may hit with a broken stack run on their own stacks;
     * NMI/#MC apart from #DF so one cannot overwrite the other's frame. */
    idt_set(8, 1);              /* #DF: a stack overflow ends up here */
    idt_set(2, 2);              /* NMI */
    idt_set(18, 2);             /* #MC */
    traps_load();
}

void traps_load(void)
{
    struct idt_ptr p = { sizeof(idt) - 1, (uint64_t)idt };
    __asm__ __volatile__("lidt %0" :: "m"(p));
}

void set_vector_handler(unsigned int vec, irq_vector_handler_t h)
{
    __atomic_store_n(&vector_handlers[vec], h, __ATOMIC_RELEASE);
}

static void __noreturn exception(struct cpu_regs *r)
{
    const char *name = exception_names[r->vector];

    if (!name)
        name = "reserved";
    if (r->vector == 14) {
        uint64_t cr2 = read_cr2();
        panic_regs(r, "%s at %lx (%s%s%s)%s", name, cr2,
                   r->error_code & 1 ? "protection" : "not present",
                   r->error_code & 2 ? ", write" : ", read",
                   r->error_code & 16 ? ", instruction fetch" : "",
                   stack_guard_hit(cr2) ? ": stack overflow" : "");
    }
    /* A #PF on the guard page cannot push its frame on the same stack, so
     * an overflow usually arrives as #DF (on the IST stack) with the
     * overflowing RSP at or just above the guard. */
    if (r->vector == 8 && stack_guard_hit(r->rsp - 8))
        panic_regs(r, "%s: stack overflow (RSP %lx at the guard page)", name,
                   r->rsp);
    panic_regs(r, "%s", name);
}

void trap_dispatch(struct cpu_regs *r);
void trap_dispatch(struct cpu_regs *r)
{
    irq_vector_handler_t h;

    if (r->vector < 32)
        exception(r);

    this_cpu()->irq_nesting++;
    h = __atomic_load_n(&vector_handlers[r->vector], __ATOMIC_ACQUIRE);
    if (h) {
        h(r);
    } else {
        spurious_vectors++;
        if (r->vector != VEC_SPURIOUS)
            apic_eoi();
    }
    this_cpu()->irq_nesting--;
}
