/* mm-abi.h: memory-management constants newer than the system headers (Debian 12 has 6.1's),
 * for the test programs. Values from the kernel's uapi headers. */
#ifndef MM_ABI_H
#define MM_ABI_H

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

#endif
