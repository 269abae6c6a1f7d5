/*
 * A small heap: power-of-two size classes from 32 to 2048 bytes carved
 * from pages, larger requests as whole pages.  Each block has a 16-byte
 * header naming its class, so kfree needs no size and can catch a double
 * or foreign free.
 *
 * heap_lock: protects the class free lists and the counters.  Lock order:
 * heap_lock, then mm_lock (a class refill allocates a page under it).
 */
#include <xenith/lockorder.h>
#include <xenith/mm.h>
#include <xenith/panic.h>
#include <xenith/spinlock.h>
#include <xenith/string.h>

#define HEAP_MIN_SHIFT  5               /* 32 bytes, header included */
#define HEAP_MAX_SHIFT  11              /* 2048 */
#define NR_CLASSES      (HEAP_MAX_SHIFT - HEAP_MIN_SHIFT + 1)
#define MAGIC_USED      0x786e6974686e7573ull
#define MAGIC_FREE      0x786e697466726565ull
#define LARGE           0xff

struct block {
    uint64_t magic;
    uint32_t class;                     /* or LARGE */
    uint32_t order;                     /* LARGE: page order */
    /* user data follows; while free, the first word links the list */
};

static spinlock_t heap_lock = SPINLOCK_INIT_RANKED(RANK_HEAP, "heap_lock");
static struct block *free_list[NR_CLASSES];
static uint64_t bytes_in_use;
static uint64_t slab_pages;

static void **next_of(struct block *b) { return (void **)(b + 1); }

static bool refill(unsigned int class)
{
    size_t size = 1ul << (class + HEAP_MIN_SHIFT);
    uint8_t *page = page_alloc(0);

    if (!page)
        return false;
    slab_pages++;
    for (size_t off = 0; off + size <= PAGE_SIZE; off += size) {
        struct block *b = (struct block *)(page + off);
        b->magic = MAGIC_FREE;
        b->class = class;
        *next_of(b) = free_list[class];
        free_list[class] = b;
    }
    return true;
}

static void *large_alloc(size_t size)
{
    unsigned int order = 0;
    struct block *b;
    unsigned long f;

    while ((PAGE_SIZE << order) < size + sizeof(struct block))
        if (++order > 16)
            return NULL;
    b = page_alloc(order);
    if (!b)
        return NULL;
    b->magic = MAGIC_USED;
    b->class = LARGE;
    b->order = order;
    f = spin_lock_irqsave(&heap_lock);
    bytes_in_use += PAGE_SIZE << order;
    spin_unlock_irqrestore(&heap_lock, f);
    return b + 1;
}

void *kmalloc(size_t size)
{
    unsigned int class = 0;
    struct block *b = NULL;
    unsigned long f;

    if (size == 0 || size > (1ul << 30))
        return NULL;
    if (size + sizeof(struct block) > (1ul << HEAP_MAX_SHIFT))
        return large_alloc(size);
    while ((1ul << (class + HEAP_MIN_SHIFT)) < size + sizeof(struct block))
        class++;

    f = spin_lock_irqsave(&heap_lock);
    if (free_list[class] || refill(class)) {
        b = free_list[class];
        free_list[class] = *next_of(b);
        b->magic = MAGIC_USED;
        bytes_in_use += 1ul << (class + HEAP_MIN_SHIFT);
    }
    spin_unlock_irqrestore(&heap_lock, f);
    return b ? b + 1 : NULL;
}

void kfree(void *p)
{
    struct block *b;
    unsigned long f;

    if (!p)
        return;
    b = (struct block *)p - 1;
    if (b->magic != MAGIC_USED)
        panic("kfree(%p): %s", p, b->magic == MAGIC_FREE ?
              "double free" : "not a heap block");
    if (b->class == LARGE) {
        unsigned int order = b->order;
        b->magic = MAGIC_FREE;
        f = spin_lock_irqsave(&heap_lock);
        bytes_in_use -= PAGE_SIZE << order;
        spin_unlock_irqrestore(&heap_lock, f);
        page_free(b, order);
        return;
    }
    f = spin_lock_irqsave(&heap_lock);
    b->magic = MAGIC_FREE;
    *next_of(b) = free_list[b->class];
    free_list[b->class] = b;
    bytes_in_use -= 1ul << (b->class + HEAP_MIN_SHIFT);
    spin_unlock_irqrestore(&heap_lock, f);
}

uint64_t heap_in_use(void)
{
    return __atomic_load_n(&bytes_in_use, __ATOMIC_RELAXED);
}

uint64_t heap_slab_pages(void)
{
    return __atomic_load_n(&slab_pages, __ATOMIC_RELAXED);
}
