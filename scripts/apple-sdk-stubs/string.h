/* Stand-in for <string.h> (see README.md): the functions ring's C calls. */
#ifndef REENROLL_STUB_STRING_H
#define REENROLL_STUB_STRING_H
#include <stddef.h>
void *memcpy(void *restrict, const void *restrict, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
size_t strlen(const char *);
#endif
