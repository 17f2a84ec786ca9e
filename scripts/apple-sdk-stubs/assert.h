/* Stand-in for <assert.h> (see README.md). */
#ifndef REENROLL_STUB_ASSERT_H
#define REENROLL_STUB_ASSERT_H
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
void __assert_rtn(const char *, const char *, int, const char *) __attribute__((noreturn));
#define assert(e) ((void)((e) ? ((void)0) : __assert_rtn(__func__, __FILE__, __LINE__, #e)))
#endif
#ifndef __cplusplus
#define static_assert _Static_assert
#endif
#endif
