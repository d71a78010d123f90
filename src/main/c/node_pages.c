/*
 * Pages for libfuse's nodes, kept instead of handed back to the kernel.
 *
 * libfuse 2's high-level API keeps one node per name the kernel knows, in
 * slabs of one page each: it maps a page (mmap) when every slab is full and
 * unmaps it (munmap) as soon as its last node is freed. The kernel frees a
 * node with FORGET, so unlinking or evicting a few thousand files unmaps a
 * page every twenty-odd forgets, and creating them maps them again. An unmap
 * must flush the page from every processor's TLB; on a virtual machine with
 * the daemon's workers on both processors that is an interprocessor interrupt
 * and a wait for it: 12% of the daemon's time while it served a stream of
 * unlinks, and the client's processor was interrupted too.
 *
 * libfuse calls mmap and munmap nowhere else, through its own relocations. So
 * this file points those two relocations at functions of its own, which keep
 * up to KEPT_PAGES freed pages (4 MiB) and hand them out again, zeroed as a
 * fresh mapping would be, before mapping new ones. Beyond that, and for any
 * other call, the real functions run.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Freed pages kept for the next slabs: nodes for some 25,000 names. */
#define KEPT_PAGES 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *kept;        /* the last page kept; each holds the address of the one kept before it */
static int kept_count;
static size_t page_size;

static void *map_node_page(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
    if (addr == NULL && length == page_size && fd == -1 && (flags & MAP_ANONYMOUS)
            && prot == (PROT_READ | PROT_WRITE)) {
        pthread_mutex_lock(&lock);
        void *page = kept;
        if (page != NULL) {
            kept = *(void **) page;
            kept_count--;
        }
        pthread_mutex_unlock(&lock);
        if (page != NULL) {
            memset(page, 0, page_size);
            return page;
        }
    }
    return mmap(addr, length, prot, flags, fd, offset);
}

static int unmap_node_page(void *addr, size_t length) {
    if (length == page_size && ((uintptr_t) addr & (page_size - 1)) == 0) {
        pthread_mutex_lock(&lock);
        int keep = kept_count < KEPT_PAGES;
        if (keep) {
            *(void **) addr = kept;
            kept = addr;
            kept_count++;
        }
        pthread_mutex_unlock(&lock);
        if (keep) {
            return 0;
        }
    }
    return munmap(addr, length);
}

/* Where libfuse's relocations are, as dl_iterate_phdr finds its loaded object. */
struct object {
    ElfW(Addr) base;
    const ElfW(Dyn) *dynamic;
    ElfW(Addr) relro_start, relro_end; /* its RELRO range, read-only once loaded; 0, 0 if none */
};

static int find_libfuse(struct dl_phdr_info *info, size_t size, void *data) {
    (void) size;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "/libfuse.so.2") == NULL) {
        return 0;
    }
    struct object *o = data;
    o->base = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC) {
            o->dynamic = (const ElfW(Dyn) *) (info->dlpi_addr + ph->p_vaddr);
        } else if (ph->p_type == PT_GNU_RELRO) {
            o->relro_start = info->dlpi_addr + ph->p_vaddr;
            o->relro_end = o->relro_start + ph->p_memsz;
        }
    }
    return 1;
}

/* The dynamic loader has made most addresses in the dynamic section absolute; tell them from offsets. */
static ElfW(Addr) absolute(const struct object *o, ElfW(Addr) value) {
    return value < o->base ? o->base + value : value;
}

/* Points one relocation slot at fn, restoring the slot's page to read-only if RELRO made it so. */
static int point_slot(const struct object *o, void **slot, void *fn) {
    uintptr_t page = (uintptr_t) slot & ~(uintptr_t) (page_size - 1);
    if (mprotect((void *) page, page_size, PROT_READ | PROT_WRITE) != 0) {
        return -1;
    }
    __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    ElfW(Addr) at = (ElfW(Addr)) slot;
    if (at >= o->relro_start && at < o->relro_end) {
        mprotect((void *) page, page_size, PROT_READ);
    }
    return 0;
}

/* Sends libfuse's mmap and munmap here; returns how many of the two it found and pointed. */
int sqliteos_keep_node_pages(void) {
#if !defined(__x86_64__)
    return 0; /* the relocation type below is x86-64's */
#endif
    page_size = (size_t) sysconf(_SC_PAGESIZE);
    struct object o = { 0 };
    if (!dl_iterate_phdr(find_libfuse, &o) || o.dynamic == NULL) {
        return 0;
    }
    const ElfW(Rela) *relocations = NULL;
    size_t relocations_size = 0;
    const ElfW(Sym) *symbols = NULL;
    const char *names = NULL;
    for (const ElfW(Dyn) *d = o.dynamic; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_JMPREL: relocations = (const ElfW(Rela) *) absolute(&o, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: relocations_size = d->d_un.d_val; break;
        case DT_SYMTAB: symbols = (const ElfW(Sym) *) absolute(&o, d->d_un.d_ptr); break;
        case DT_STRTAB: names = (const char *) absolute(&o, d->d_un.d_ptr); break;
        default: break;
        }
    }
    if (relocations == NULL || symbols == NULL || names == NULL) {
        return 0;
    }
    int pointed = 0;
    for (size_t i = 0; i < relocations_size / sizeof *relocations; i++) {
        const ElfW(Rela) *r = &relocations[i];
        if (ELF64_R_TYPE(r->r_info) != R_X86_64_JUMP_SLOT) {
            continue;
        }
        const char *name = names + symbols[ELF64_R_SYM(r->r_info)].st_name;
        void *fn = strcmp(name, "mmap64") == 0 || strcmp(name, "mmap") == 0 ? (void *) map_node_page
                : strcmp(name, "munmap") == 0 ? (void *) unmap_node_page : NULL;
        if (fn != NULL && point_slot(&o, (void **) (o.base + r->r_offset), fn) == 0) {
            pointed++;
        }
    }
    return pointed;
}
