/*
 * Which event-channel ABI runs (evtchn= on the command line): FIFO when
 * Xen takes vCPU0's control block (auto), else 2-level.  Chosen once, on
 * vCPU0, before the first bind; never changed afterwards (Xen can switch
 * a domain to FIFO but not back, short of EVTCHNOP_reset).
 */
#include "internal.h"
#include <xenith/cmdline.h>
#include <xenith/percpu.h>
#include <xenith/panic.h>
#include <xenith/printk.h>

const struct evtchn_abi *evtchn_abi = &evtchn_abi_2l;

void evtchn_abi_init(void)
{
    long rc = -1;

    if (boot_options.evtchn != EVTCHN_2L) {
        rc = evtchn_abi_fifo.init();
        if (!rc)
            evtchn_abi = &evtchn_abi_fifo;
        else if (boot_options.evtchn == EVTCHN_FIFO)
            panic("events: evtchn=fifo, but EVTCHNOP_init_control failed: "
                  "%ld", rc);
        else
            pr_info("events: no FIFO ABI (EVTCHNOP_init_control: %ld)\n",
                    rc);
    }
    if (evtchn_abi == &evtchn_abi_2l && evtchn_abi_2l.init())
        panic("events: the 2-level ABI failed to start");
}

const char *evtchn_abi_name(void)
{
    return evtchn_abi->name;
}

bool evtchn_abi_is_fifo(void)
{
    return evtchn_abi == &evtchn_abi_fifo;
}

unsigned int evtchn_nr_ports(void)
{
    return evtchn_abi->nr_ports;
}

bool evtchn_port_linked(evtchn_port_t port)
{
    return evtchn_abi->is_linked(port);
}

/* Some vCPU has port in hand (struct percpu's port_in_hand). */
bool evtchn_port_in_hand(evtchn_port_t port)
{
    for (unsigned int c = 0; c < MAX_VCPUS; c++)
        if (__atomic_load_n(&percpu_area[c].port_in_hand, __ATOMIC_SEQ_CST) ==
            port)
            return true;
    return false;
}

unsigned int evtchn_abi_pages(void)
{
    return evtchn_abi->kept_pages();
}

/* A port used raw (polled, or poked by a test) still needs its event word
 * for its state to be seen: Xen keeps a port with no word masked and
 * its pending bit to itself. */
int evtchn_port_prepare(evtchn_port_t port)
{
    return evtchn_abi->setup_port(port, false);
}
