/* refpage.c: reference pages — ucow_refpage_create() and the MAP_PRIVATE mappings of its fds:
 * anonymous memory whose untouched pages read as the pattern (filled eagerly without uffd). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cancel.h"
#include "compat.h"
#include "config.h"
#include "engine.h"
#include "handler.h"
#include "log.h"
#include "pattern.h"
#include "refpage.h"
#include "region.h"
#include "registration.h"
#include "stats.h"
#include "sys.h"
#include "ucow.h"
#include "window.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * What makes an fd a reference page, also for a process that inherited it across exec: a
 * memfd of this name, one page long, sealed against any change. The name alone could be
 * anyone's; the seals make the content final, so the pattern read from it stays true.
 */
#define REFPAGE_NAME "ucow-refpage"
#define REFPAGE_LINK "/memfd:" REFPAGE_NAME " (deleted)"
#define REFPAGE_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

/* refpage_claim() -> refpage_manage(): the low 32 bits of data are the pattern id. */
#define DATA_ID(data) ((int)((data) & 0xffffffffu))
#define DATA_EAGER (1ULL << 32)	/* MAP_POPULATE or MAP_LOCKED: every page wanted now */

/* This policy's counters (UCOW_STATS: the "refpage" group). */
enum refpage_counter {
	RP_FDS,			/* ucow_refpage_create() successes */
	RP_REGIONS,		/* mappings managed by userfaultfd */
	RP_REGIONS_ZERO,	/* zero patterns: plain anonymous memory */
	RP_REGIONS_EAGER,	/* mappings filled when mapped (no userfaultfd, populate) */
	RP_BYTES_EAGER,		/* bytes ucow wrote eagerly (mmap, refills, mremap) */
	RP_FAULTS_READ,		/* faults_counter: reads, then writes */
	RP_FAULTS_WRITE,
	RP_PAGES_FILLED,	/* pages filled with the pattern by faults (windows included) */
	RP__COUNT,
};
static atomic_ulong refpage_counts[RP__COUNT];

static void rp_count(enum refpage_counter id, unsigned long n)
{
	ucow_count(&refpage_counts[id], n);
}

/* Regions ucow filled itself (no userfaultfd): madvise and mremap must refill them. */
static const struct ucow_policy refpage_eager_policy;
static atomic_bool have_eager;

static int fail(int err)
{
	errno = err;
	return -1;
}

static int create_memfd(void)
{
	int fd = memfd_create(REFPAGE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	/* Before 6.3 the kernel does not know MFD_NOEXEC_SEAL (vm.memfd_noexec=2 needs it). */
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(REFPAGE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd;
}

/* Spreads the first @size bytes of @page over the whole page, without memset. */
static void repeat_pattern(unsigned char *page, size_t size)
{
	for (size_t have = size; have < UCOW_PAGE_SIZE; have *= 2)
		memcpy(page + have, page, have);
}

EXPORT int ucow_refpage_create(const void *content, size_t size, unsigned long flags)
{
	UCOW_NO_CANCEL;
	unsigned char page[UCOW_PAGE_SIZE];
	int fd, id, err;
	ssize_t n;

	if (flags || size == 0 || size > UCOW_PAGE_SIZE || (size & (size - 1)))
		return fail(EINVAL);
	/* UCOW_DISABLE (or a bad knob): the library does nothing, callers use their own path. */
	if (!ucow_enabled)
		return fail(ENOSYS);
	fd = create_memfd();
	if (fd < 0)
		return -1;
	/* The kernel reads @content for us: an unreadable pointer is EFAULT, never a crash. */
	n = pwrite(fd, content, size, 0);
	if (n != (ssize_t)size) {
		err = n < 0 ? errno : EFAULT;
		goto out_close;
	}
	if (pread(fd, page, size, 0) != (ssize_t)size) {
		err = EIO;
		goto out_close;
	}
	repeat_pattern(page, size);
	if (pwrite(fd, page, UCOW_PAGE_SIZE, 0) != (ssize_t)UCOW_PAGE_SIZE ||
	    fcntl(fd, F_ADD_SEALS, REFPAGE_SEALS) < 0) {
		err = errno ? errno : EIO;
		goto out_close;
	}
	/* Interned now so that a full table is the caller's ENOMEM, not a failed mmap later. */
	id = pattern_intern(page, size);
	if (id < 0) {
		err = -id;
		goto out_close;
	}
	rp_count(RP_FDS, 1);
	return fd;

out_close:
	close(fd);
	return fail(err);
}

/*
 * Whether @fd is a reference page, and its pattern. Ordinary files cost one fstat: a
 * refpage is a regular file of exactly one page. Returns the pattern id, 0 when @fd is not
 * a refpage, -errno when it is but cannot be mapped (not readable).
 */
static int refpage_pattern_of(int fd)
{
	unsigned char page[UCOW_PAGE_SIZE];
	char path[32], link[sizeof(REFPAGE_LINK) + 1];
	struct stat st;
	ssize_t n;
	int seals;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != (off_t)UCOW_PAGE_SIZE)
		return 0;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & REFPAGE_SEALS) != REFPAGE_SEALS)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link));
	/* Without /proc the size and the seals must do. */
	if (n >= 0 && (n != (ssize_t)strlen(REFPAGE_LINK) || memcmp(link, REFPAGE_LINK, n) != 0))
		return 0;
	n = pread(fd, page, UCOW_PAGE_SIZE, 0);
	if (n != (ssize_t)UCOW_PAGE_SIZE)
		return n < 0 && errno == EBADF ? -EACCES : -EIO;	/* opened O_WRONLY */
	return pattern_intern(page, UCOW_PAGE_SIZE);
}

/*
 * A refpage fd becomes private anonymous memory here, before the other claims see it.
 * MAP_SHARED fails with EINVAL, as for any mapping a refpage cannot give.
 */
static int refpage_claim(struct ucow_mmap_call *call, uint64_t *data)
{
	int *flags = &call->flags, *fd = &call->fd;
	int id;

	if (!call->tmpfs)
		return 0;
	id = refpage_pattern_of(*fd);

	if (id <= 0)
		return id;
	/* A refpage has no shared form: there is no file to share writes through. */
	if ((*flags & MAP_TYPE) != MAP_PRIVATE)
		return -EINVAL;
	if (*flags & MAP_HUGETLB)	/* as the kernel answers for a file that is not hugetlbfs */
		return -EINVAL;
	*data = (uint64_t)id;
	/* The kernel would populate zeroes before ucow registers: ucow fills them itself. */
	if (*flags & (MAP_POPULATE | MAP_LOCKED))
		*data |= DATA_EAGER;
	*flags = (*flags & ~(MAP_TYPE | MAP_POPULATE)) | MAP_PRIVATE | MAP_ANONYMOUS;
	*fd = -1;
	call->tmpfs = false;
	if (pattern_is_zero(id)) {
		/* Plain anonymous memory already reads as this pattern. */
		rp_count(RP_REGIONS_ZERO, 1);
		if (*data & DATA_EAGER)
			*flags |= MAP_POPULATE;
		return 0;
	}
	return 1;
}

/* Writes the pattern over [start, end) whatever its protection; 0 or -errno. */
static int write_pattern(uintptr_t start, uintptr_t end, int prot, int id)
{
	bool writable = (prot & (PROT_READ | PROT_WRITE)) == (PROT_READ | PROT_WRITE);

	if (!writable && sys_mprotect((void *)start, end - start, PROT_READ | PROT_WRITE) < 0)
		return -errno;
	pattern_write(id, (void *)start, end - start);
	if (!writable && sys_mprotect((void *)start, end - start, prot) < 0)
		return -errno;
	rp_count(RP_BYTES_EAGER, end - start);
	return 0;
}

static int fill_eagerly(uintptr_t start, size_t len, int prot, int id)
{
	struct ucow_region r = {
		.start = start,
		.end = start + UCOW_PAGE_UP(len),
		.policy = &refpage_eager_policy,
		.data = (uint64_t)id,
		.prot = prot,
	};
	int ret;

	ret = write_pattern(r.start, r.end, prot, id);
	if (ret < 0) {
		ucow_warn("refpage", "cannot fill %#lx-%#lx with the pattern: %s; mmap fails",
			  (unsigned long)r.start, (unsigned long)r.end, strerror(-ret));
		sys_munmap((void *)r.start, r.end - r.start);
		return ret;
	}
	/* Recorded so that munmap, mremap, mprotect and madvise keep it true. */
	handler_barrier();
	ret = registration_record(&r);
	if (ret < 0)
		ucow_info("refpage", "cannot record %#lx-%#lx: %s; MADV_DONTNEED there will read "
			  "zeroes", (unsigned long)r.start, (unsigned long)r.end, strerror(-ret));
	else
		atomic_store_explicit(&have_eager, true, memory_order_release);
	rp_count(RP_REGIONS_EAGER, 1);
	return 0;
}

static bool first_page_present(uintptr_t start)
{
	unsigned char vec = 0;

	return mincore((void *)start, UCOW_PAGE_SIZE, &vec) == 0 && (vec & 1);
}

static int refpage_manage(uintptr_t start, const struct ucow_mmap_call *call, uint64_t data)
{
	size_t len = call->len;
	int prot = call->prot;
	static atomic_flag told = ATOMIC_FLAG_INIT;
	int id = DATA_ID(data);

	/* Pages the kernel populated (MAP_POPULATE, MAP_LOCKED, mlockall(MCL_FUTURE)) hold
	 * zeroes that userfaultfd would never see. */
	if ((data & DATA_EAGER) || first_page_present(start))
		return fill_eagerly(start, len, prot, id);
	if (engine_manage(start, len, &ucow_refpage_policy, -1, 0, (uint64_t)id, prot) == 0)
		return 0;
	if (engine_mode() == UCOW_ENGINE_FAILED && !atomic_flag_test_and_set(&told))
		ucow_info("refpage", "no userfaultfd: reference-page mappings are filled with the "
			  "pattern when mapped (same bytes, more memory)");
	return fill_eagerly(start, len, prot, id);
}

static void refill_one(const struct ucow_region *r, void *arg)
{
	if (r->policy != &refpage_eager_policy)
		return;
	if (write_pattern(r->start, r->end, r->prot, DATA_ID(r->data)))
		ucow_warn("refpage", "cannot refill %#lx-%#lx with the pattern",
			  (unsigned long)r->start, (unsigned long)r->end);
}

/* The eager refpage regions in [start, end): written outside the registry lock. */
static void refill_eager(uintptr_t start, uintptr_t end)
{
	registry_walk(&ucow_registry, start, end, refill_one, NULL);
}

static bool is_eager(const struct ucow_region *r, void *arg)
{
	return r->policy == &refpage_eager_policy;
}

static bool has_eager(uintptr_t start, uintptr_t end)
{
	return atomic_load_explicit(&have_eager, memory_order_acquire) &&
	       registry_any(&ucow_registry, start, end, is_eager, NULL);
}

static void fill_registered(const struct ucow_region *r, void *arg)
{
	if (r->policy == &ucow_refpage_policy && pattern_materialise(r, true) < 0)
		ucow_info("refpage", "cannot fill %#lx-%#lx before MADV_COLLAPSE",
			  (unsigned long)r->start, (unsigned long)r->end);
}

/*
 * Eagerly filled mappings get no fault when their pages go. Pages freed lazily would read
 * zero once reclaimed, and no fault would say so: keeping them is an answer MADV_FREE allows;
 * WILLNEED checks the range as FREE would. MADV_COLLAPSE refuses a registered range with a
 * page missing, where an eagerly filled one collapses: the pattern is filled in first.
 */
static int refpage_advise_before(uintptr_t start, uintptr_t end, int advice)
{
	if (advice == MADV_FREE && has_eager(start, end))
		return MADV_WILLNEED;
	if (advice == MADV_COLLAPSE && registry_may_overlap(&ucow_registry, start, end)) {
		handler_barrier();
		registry_walk(&ucow_registry, start, end, fill_registered, NULL);
	}
	return advice;
}

/* MADV_DONTNEED over eagerly filled pages: they read the pattern again. */
static void refpage_advise_after(uintptr_t start, uintptr_t end, int advice)
{
	if ((advice == MADV_DONTNEED || advice == MADV_DONTNEED_LOCKED) && has_eager(start, end))
		refill_eager(start, end);
}

/* mremap grew an eagerly filled mapping: what it added reads the pattern too. */
static void refpage_remapped(uintptr_t old, size_t old_len, uintptr_t new, size_t new_len,
			     int flags)
{
	if (old_len && new_len > old_len && atomic_load_explicit(&have_eager, memory_order_acquire))
		refill_eager(new + old_len, new + new_len);
}

/* MADV_DONTNEED: the pages read the pattern again; a stream through them starts over. */
static void refpage_discard(const struct ucow_region *r, uintptr_t start, uintptr_t end)
{
	window_forget(start, end);
}

static unsigned long rp_read(enum refpage_counter id)
{
	return ucow_count_read(&refpage_counts[id]);
}

static int refpage_stats_json(char *buf, size_t size)
{
	return snprintf(buf, size,
		",\"refpage\":{\"fds_created\":%lu,\"regions\":%lu,\"regions_zero\":%lu,"
		"\"regions_eager\":%lu,\"bytes_filled_eagerly\":%lu,\"faults_read\":%lu,"
		"\"faults_write\":%lu,\"pages_filled\":%lu}",
		rp_read(RP_FDS), rp_read(RP_REGIONS), rp_read(RP_REGIONS_ZERO),
		rp_read(RP_REGIONS_EAGER), rp_read(RP_BYTES_EAGER), rp_read(RP_FAULTS_READ),
		rp_read(RP_FAULTS_WRITE), rp_read(RP_PAGES_FILLED));
}

static void refpage_stats_reset(void)
{
	ucow_counts_reset(refpage_counts, RP__COUNT);
}

const struct ucow_policy ucow_refpage_policy = {
	.name = "refpage",
	.claim = refpage_claim,
	.manage = refpage_manage,
	.fault = pattern_fault,
	.kernel_fallback = false,	/* the kernel knows no pattern: poison, never zeroes */
	.discard = refpage_discard,
	.advise_before = refpage_advise_before,
	.advise_after = refpage_advise_after,
	.remapped = refpage_remapped,
	.fork_child_early = pattern_fork_child,
	.materialise = pattern_materialise,
	.regions_counter = &refpage_counts[RP_REGIONS],
	.faults_counter = &refpage_counts[RP_FAULTS_READ],
	.pages_filled = &refpage_counts[RP_PAGES_FILLED],
	.stats_json = refpage_stats_json,
	.stats_reset = refpage_stats_reset,
};

/* Registered only in a fork child that re-registers every region: a fault there (after a
 * discard) is filled as in a managed region. */
static const struct ucow_policy refpage_eager_policy = {
	.name = "refpage",
	.eventless = true,
	.fault = pattern_fault,
	.kernel_fallback = false,
	.discard = refpage_discard,
	.materialise = pattern_materialise,
	.faults_counter = &refpage_counts[RP_FAULTS_READ],
	.pages_filled = &refpage_counts[RP_PAGES_FILLED],
};
