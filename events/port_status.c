/*
 * Asking Xen about our own ports.  Xen reports every port below the end
 * of the domain's allocated port range (closed, unbound, bound...) and
 * -EINVAL past it, so a scan from port 1 up to the first -EINVAL sees
 * every port the domain has, at one hypercall per port in that range.
 */
#include <xenith/evtchn.h>
#include <xenith/hypercall.h>
#include <xen/errno.h>

/* The most ports any ABI names (FIFO's 131072): a domain that has used
 * every one has a range that ends there, with no -EINVAL after it. */
#define SCAN_LIMIT EVTCHN_FIFO_NR_CHANNELS

long evtchn_port_status(evtchn_port_t port, struct evtchn_status *st)
{
    *st = (struct evtchn_status){ .dom = DOMID_SELF, .port = port };
    return hyp_event_channel_op(EVTCHNOP_status, st);
}

long evtchn_count_open(void)
{
    struct evtchn_status st;
    long open = 0;

    /* Port 0 is reserved by Xen and never handed out. */
    for (evtchn_port_t port = 1; port < SCAN_LIMIT; port++) {
        long rc = evtchn_port_status(port, &st);
        if (rc == -XEN_EINVAL)
            return open;                /* past the allocated range */
        if (rc < 0)
            return rc;
        open += st.status != EVTCHNSTAT_closed;
    }
    return open;
}
