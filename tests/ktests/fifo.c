/*
 * The FIFO event-channel ABI's own cases (events/fifo.c).  Under the
 * 2-level ABI they skip, saying so: the boot matrix runs every suite
 * under both.
 */
#include <xenith/selftest.h>
#include <xenith/cpu.h>
#include <xenith/events.h>
#include <xenith/evtchn.h>
#include <xenith/inject.h>
#include <xenith/mm.h>
#include <xenith/percpu.h>
#include <xenith/smp.h>
#include <xenith/time.h>
#include <xen/errno.h>

#include "evtchn_util.h"
#include "smp_util.h"

DECLARE_INJECT(hotplug_die_irqs_off);

#define HOLD_NS         test_bound_ns(2 * NSEC_PER_SEC)
#define EVENT_NS        test_bound_ns(NSEC_PER_SEC)
#define NR_EVENTS       16
/* Ports a search for one number may hold at once. */
#define MAX_SEARCH      32

#define NEED_FIFO() do { if (!evtchn_abi_is_fifo())                         \
        SKIP("needs the FIFO event-channel ABI (evtchn=2l, or Xen refused "  \
             "FIFO)"); } while (0)

static void noop_handler(int irq, void *data)
{
    (void)irq;
    (void)data;
}

/* Allocate unbound ports until Xen hands out number want (it gives the
 * lowest free one); close the others.  True if it did. */
static bool alloc_port_number(evtchn_port_t want)
{
    evtchn_port_t got[MAX_SEARCH];
    unsigned int n = 0;
    bool found = false;

    while (n < MAX_SEARCH && !found) {
        if (evtchn_alloc_unbound(DOMID_SELF, &got[n]))
            break;
        found = got[n] == want;
        n++;
    }
    for (unsigned int i = 0; i + (found ? 1 : 0) < n; i++)
        (void)evtchn_close(got[i]);
    return found;
}

/* ------------------------------------------------------------------------
 * Mutant F (Linux's FIFO close of a port linked on an offline CPU): vCPU
 * k is held on its way down, interrupts off, and its call IPI is sent:
 * Xen links the port on k's queue, where nobody will take it off.  k goes
 * down; DEAD closes the port, which must no longer be LINKED.  Its
 * number is then bound again, on vCPU d, as one end of a loopback; every
 * event sent to it must arrive.  Had the port stayed LINKED on the dead
 * queue, Xen would never link it again: Linux lost events so on the Xen
 * of its day; Xen 4.17 refuses to hand a LINKED port's number out at all
 * (is_busy), so here the number leaks instead.
 */
struct f_state {
    struct counter hits;
    struct cpu_down_arg down;
    struct cpu_work w;
};

static void f_count(int irq, void *data)
{
    count_handler_util(irq, data);
}

SELFTEST(regress, fifo_close_linked_on_dead_vcpu, .min_vcpus = 3,
         .timeout_ms = 30000)
{
    static struct f_state st;
    struct evt_action a = { .handler = f_count, .data = &st.hits,
                            .name = "reused" };
    struct evt_action b = { .handler = noop_handler, .name = "sender" };
    unsigned int v[2], k, d;
    evtchn_port_t port;
    int irq_a, irq_b;
    bool linked;

    NEED_FIFO();
    PICK_CPUS(2, v);
    k = v[0];
    d = v[1];
    memset(&st, 0, sizeof(st));
    st.down.cpu = k;
    port = ipi_call_port(k);
    REQUIRE(port != 0);

    inject_arm(&inject_hotplug_die_irqs_off, k);
    REQUIRE(test_work_queue(d, &st.w, cpu_down_work, &st.down) == 0);
    if (!inject_wait_held(&inject_hotplug_die_irqs_off, HOLD_NS)) {
        test_diag("vCPU%u never reached hotplug.die_irqs_off", k);
        CHECK(smp_work_wait(&st.w, 2 * HOLD_NS));
        return TEST_FAIL;
    }
    CHECK(evtchn_send(port) == 0);
    linked = evtchn_port_linked(port);
    inject_release(&inject_hotplug_die_irqs_off);
    if (!linked)
        test_diag("vCPU%u's call port %u was not linked on its queue while "
                  "it went down: the case tests nothing", k, port);
    CHECK(linked);
    CHECK(smp_work_wait(&st.w, 2 * HOLD_NS));
    REQUIRE(st.down.rc == 0);

    /* DEAD closed the port.  Still LINKED, Xen 4.17 will not hand its
     * number out again (its is_busy check); a Xen without that check
     * would, and the next binding would lose every event. */
    if (evtchn_port_linked(port))
        test_diag("port %u closed while still LINKED on dead vCPU%u's "
                  "queue (mutant F)", port, k);
    CHECK(!evtchn_port_linked(port));
    /* The oracle must see it too: closed in Xen, LINKED on a queue. */
    CHECK(evtchn_oracle_check() == 0);
    /* Bind its number again, on vCPU d. */
    if (!alloc_port_number(port)) {
        test_diag("Xen did not hand out port %u again within %u ports",
                  port, MAX_SEARCH);
        CHECK(cpu_online_again(k) == 0);
        return TEST_FAIL;
    }
    irq_a = bind_evtchn(port, &a);
    if (irq_a < 0) {
        (void)evtchn_close(port);
        CHECK(irq_a >= 0);
        CHECK(cpu_online_again(k) == 0);
        return TEST_FAIL;
    }
    CHECK(irq_set_affinity(irq_a, d) == 0);
    irq_b = bind_interdomain(DOMID_SELF, port, &b);
    CHECK(irq_b >= 0);
    for (int i = 1; irq_b >= 0 && i <= NR_EVENTS; i++) {
        CHECK(notify_remote_via_irq(irq_b) == 0);
        if (!wait_count_ns(&st.hits.hits, i, EVENT_NS)) {
            test_diag("event %d of %d on port %u, bound again on vCPU%u "
                      "after its close, never arrived: linked %d, pending "
                      "%d, masked %d (left linked on dead vCPU%u's queue: "
                      "mutant F)", i, NR_EVENTS, port, d,
                      evtchn_port_linked(port), evtchn_port_pending(port),
                      evtchn_port_masked(port), k);
            CHECK(false);
            break;
        }
    }
    if (irq_b >= 0)
        unbind(irq_b);
    unbind(irq_a);
    CHECK(cpu_online_again(k) == 0);
    CHECK(vcpu_answers(k));
    CHECK(evtchn_fifo_close_linked == 0);
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * Scale: bind every port Xen lets the domain have under FIFO (loopback
 * pairs, both ends bound to irqs) until Xen says no more, raise a sample
 * of them spread over the whole range (the last pair too), require each
 * raised port handled exactly once and no other, then unbind everything;
 * the runner's leak checks and the oracle see nothing left.  Named only
 * (about 131072 binds and as many unbinds): the boot matrix runs it with
 * enough RAM for every descriptor.
 */
#define MAX_PAIRS       (EVTCHN_FIFO_NR_CHANNELS / 2)
#define SAMPLES         256u

struct pair {
    int irq_a, irq_b;
    int hits;                   /* atomic: port_a's events */
};

static void pair_handler(int irq, void *data)
{
    (void)irq;
    __atomic_fetch_add(&((struct pair *)data)->hits, 1, __ATOMIC_RELEASE);
}

/* One more pair; 0, or -errno (-ENOSPC: Xen's limit reached). */
static int bind_pair(struct pair *p)
{
    struct evt_action a = { .handler = pair_handler, .data = p,
                            .name = "max-a" };
    struct evt_action b = { .handler = noop_handler, .name = "max-b" };
    evtchn_port_t port;
    long rc = evtchn_alloc_unbound(DOMID_SELF, &port);

    p->irq_a = p->irq_b = -1;
    if (rc)
        return (int)rc;
    p->irq_a = bind_evtchn(port, &a);
    if (p->irq_a < 0) {
        (void)evtchn_close(port);
        return p->irq_a;
    }
    p->irq_b = bind_interdomain(DOMID_SELF, port, &b);
    if (p->irq_b < 0) {
        unbind(p->irq_a);
        p->irq_a = -1;
        return p->irq_b;
    }
    return 0;
}

SELFTEST(evtchn, fifo_max_ports, .explicit_only = true, .timeout_ms = 900000)
{
    unsigned int order = 0, n = 0, raised = 0, highest = 0;
    struct pair *pairs;
    uint64_t t0, t1, t2, total = 0;
    int rc = 0;

    NEED_FIFO();
    while ((PAGE_SIZE << order) < MAX_PAIRS * sizeof(*pairs))
        order++;
    pairs = page_alloc(order);
    REQUIRE(pairs != NULL);
    t0 = time_now_ns();
    while (n < MAX_PAIRS && (rc = bind_pair(&pairs[n])) == 0) {
        evtchn_port_t b = irq_to_port(pairs[n].irq_b);

        highest = b > highest ? b : highest;
        /* Where the time goes: Xen looks for a free port from port 1
         * up at every allocation, so each costs more than the last. */
        if (++n % 16384 == 0)
            test_diag("%u ports bound after %lu ms", 2 * n,
                      (unsigned long)((time_now_ns() - t0) / NSEC_PER_MSEC));
    }
    t1 = time_now_ns();
    test_diag("bound %u ports (%u loopback pairs) in %lu ms, highest port "
              "%u; the next bind said %d", 2 * n, n,
              (unsigned long)((t1 - t0) / NSEC_PER_MSEC), highest, rc);
    /* Only Xen's limit may stop it: our own memory running out first
     * would not measure Xen's. */
    if (rc != -XEN_ENOSPC)
        test_diag("binding stopped by %d, not by Xen's limit (-ENOSPC)", rc);
    CHECK(rc == -XEN_ENOSPC);
    CHECK(n > 0);

    for (unsigned int s = 0; n && s < SAMPLES; s++) {
        unsigned int i = s == SAMPLES - 1 ? n - 1 : s * (n / SAMPLES);

        if (__atomic_load_n(&pairs[i].hits, __ATOMIC_ACQUIRE))
            continue;                   /* n < SAMPLES: sampled already */
        CHECK(notify_remote_via_irq(pairs[i].irq_b) == 0);
        raised++;
        if (!wait_count_ns(&pairs[i].hits, 1, EVENT_NS)) {
            evtchn_port_t a = irq_to_port(pairs[i].irq_a);

            test_diag("port %u (pair %u of %u) raised, never handled: "
                      "pending %d, masked %d, linked %d", a, i, n,
                      evtchn_port_pending(a), evtchn_port_masked(a),
                      evtchn_port_linked(a));
            CHECK(false);
            break;
        }
    }
    mdelay(50);                         /* a second delivery would be in */
    for (unsigned int i = 0; i < n; i++)
        total += __atomic_load_n(&pairs[i].hits, __ATOMIC_ACQUIRE);
    if (total != raised)
        test_diag("%lu events handled for %u raised", (unsigned long)total,
                  raised);
    CHECK(total == raised);

    for (unsigned int i = 0; i < n; i++) {
        unbind(pairs[i].irq_b);
        unbind(pairs[i].irq_a);
    }
    t2 = time_now_ns();
    test_diag("%u ports raised, each handled once; all unbound in %lu ms",
              raised, (unsigned long)((t2 - t1) / NSEC_PER_MSEC));
    page_free(pairs, order);
    CHECK(evtchn_fifo_close_linked == 0);
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * An event already queued on vCPU k (FIFO: LINKED on k's queue; 2-level:
 * pending in a word k scans) when its port moves to vCPU d is handled
 * once, on d.  k is held in a cross-vCPU call, interrupts off, inside its
 * upcall, while the event comes and the port moves; let go, k's consumer
 * finds the port on its own queue, owned by d now, and must hand it back
 * to Xen for d rather than run it itself.  Both ABIs.
 */
struct hold {
    int held, release;          /* atomic */
};

static void hold_irqs_off(void *arg)
{
    struct hold *h = arg;
    uint64_t until = time_now_ns() + HOLD_NS;

    __atomic_store_n(&h->held, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&h->release, __ATOMIC_ACQUIRE) &&
           time_now_ns() < until)
        cpu_relax();
}

SELFTEST(evtchn, move_while_queued, .min_vcpus = 3, .timeout_ms = 20000)
{
    static struct counter c;
    static struct hold h;
    struct loopback lo;
    unsigned int v[2], k, d;
    bool handled;

    PICK_CPUS(2, v);
    k = v[0];
    d = v[1];
    memset(&c, 0, sizeof(c));
    memset(&h, 0, sizeof(h));
    REQUIRE(loopback_open(&lo, count_handler_util, &c, noop_handler, NULL) == 0);
    if (irq_set_affinity(lo.irq_a, k)) {
        loopback_close(&lo);
        REQUIRE(!"irq_set_affinity(lo.irq_a, k) == 0");
    }
    REQUIRE(test_call_async(k, hold_irqs_off, &h) == 0);
    if (!wait_flag(&h.held)) {
        test_diag("vCPU%u never ran the holding call", k);
        __atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
        loopback_close(&lo);
        return TEST_FAIL;
    }
    CHECK(evtchn_send(lo.port_b) == 0);
    if (evtchn_abi_is_fifo() && !evtchn_port_linked(lo.port_a))
        test_diag("port %u not linked on vCPU%u's queue after the send: the "
                  "case tests nothing", lo.port_a, k);
    CHECK(!evtchn_abi_is_fifo() || evtchn_port_linked(lo.port_a));
    CHECK(irq_set_affinity(lo.irq_a, d) == 0);
    __atomic_store_n(&h.release, 1, __ATOMIC_RELEASE);
    handled = wait_count_ns(&c.hits, 1, EVENT_NS);
    mdelay(20);                         /* a second delivery would be in */
    if (!handled)
        test_diag("the event queued on vCPU%u before its port moved to "
                  "vCPU%u was never handled: pending %d, masked %d, linked "
                  "%d", k, d, evtchn_port_pending(lo.port_a),
                  evtchn_port_masked(lo.port_a),
                  evtchn_port_linked(lo.port_a));
    else if (c.hits != 1 || c.last_cpu != d)
        test_diag("the event queued on vCPU%u before its port moved was "
                  "handled %d times, last on vCPU%u, not once on its new "
                  "owner vCPU%u", k, c.hits, c.last_cpu, d);
    CHECK(handled && c.hits == 1 && c.last_cpu == d);
    loopback_close(&lo);
    return TEST_RESULT();
}

/* ------------------------------------------------------------------------
 * Mutant FH: vCPU k's consumer has taken port a off its queue and seen it
 * pending (held at fifo.before_owner_check); a moves to vCPU d, whose
 * unmask makes Xen link it on d's queue, and d handles the event.  Let
 * go, k finds a owned by d and hands it back to Xen: the event must not
 * run again.  Handing back by raising it (setting pending again) did,
 * once in a make test-scale run of affinity.no_loss_no_dup.
 */
DECLARE_INJECT(fifo_before_owner_check);

SELFTEST(regress, fifo_handback_no_dup, .min_vcpus = 3, .timeout_ms = 20000)
{
    static struct counter c;
    struct loopback lo;
    unsigned int v[2], k, d;
    bool by_d;

    NEED_FIFO();
    PICK_CPUS(2, v);
    k = v[0];
    d = v[1];
    memset(&c, 0, sizeof(c));
    REQUIRE(loopback_open(&lo, count_handler_util, &c, noop_handler, NULL) == 0);
    if (irq_set_affinity(lo.irq_a, k)) {
        loopback_close(&lo);
        REQUIRE(!"irq_set_affinity(lo.irq_a, k) == 0");
    }
    inject_arm(&inject_fifo_before_owner_check, lo.port_a);
    CHECK(evtchn_send(lo.port_b) == 0);
    if (!inject_wait_held(&inject_fifo_before_owner_check, HOLD_NS)) {
        inject_disarm(&inject_fifo_before_owner_check);
        test_diag("vCPU%u never reached fifo.before_owner_check for port %u",
                  k, lo.port_a);
        loopback_close(&lo);
        return TEST_FAIL;
    }
    /* Held there, k has the port in hand: pending, unmasked, on no
     * queue, yet owed (hotplug.stress asks this before it calls an event
     * stranded). */
    if (!evtchn_port_in_hand(lo.port_a))
        test_diag("vCPU%u holds port %u off its queue but no vCPU has it "
                  "in hand", k, lo.port_a);
    CHECK(evtchn_port_in_hand(lo.port_a));
    CHECK(irq_set_affinity(lo.irq_a, d) == 0);
    /* The premise: d handles the event while k still holds its stale
     * look at it. */
    by_d = wait_count_ns(&c.hits, 1, EVENT_NS);
    if (!by_d)
        test_diag("port %u moved to vCPU%u while vCPU%u held it off its "
                  "queue was not handled by vCPU%u: pending %d, masked %d, "
                  "linked %d; the case tests nothing", lo.port_a, d, k, d,
                  evtchn_port_pending(lo.port_a),
                  evtchn_port_masked(lo.port_a),
                  evtchn_port_linked(lo.port_a));
    CHECK(by_d);
    inject_release(&inject_fifo_before_owner_check);
    mdelay(20);                         /* a second delivery would be in */
    if (by_d && c.hits != 1)
        test_diag("the event was handled %d times: vCPU%u handed port %u "
                  "back by raising it after its new owner vCPU%u had "
                  "handled it (mutant FH)", c.hits, k, lo.port_a, d);
    CHECK(c.hits == 1 && c.last_cpu == d);
    CHECK(!evtchn_port_in_hand(lo.port_a));
    loopback_close(&lo);
    CHECK(evtchn_oracle_check() == 0);
    return TEST_RESULT();
}
