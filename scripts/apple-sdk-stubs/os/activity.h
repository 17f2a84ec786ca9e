/* Stand-in for the Apple SDK's <os/activity.h> (see README.md). */
#ifndef REENROLL_STUB_OS_ACTIVITY_H
#define REENROLL_STUB_OS_ACTIVITY_H
#include <stdint.h>

typedef struct os_activity_s *os_activity_t;
/* Apple declares it with OS_ENUM, which expands to an enum with a fixed underlying type. */
typedef enum : uint32_t {
    OS_ACTIVITY_FLAG_DEFAULT = 0,
    OS_ACTIVITY_FLAG_DETACHED = 0x1,
    OS_ACTIVITY_FLAG_IF_NONE_PRESENT = 0x2,
} os_activity_flag_t;

typedef struct os_activity_scope_state_s {
    uint64_t opaque[2];
} *os_activity_scope_state_t;

extern struct os_activity_s _os_activity_current;
extern struct os_activity_s _os_activity_none;
#define OS_ACTIVITY_CURRENT ((os_activity_t)&_os_activity_current)
#define OS_ACTIVITY_NONE ((os_activity_t)&_os_activity_none)

/* <mach-o/ldsyms.h> declares it as the image's Mach-O header. */
struct mach_header;
extern struct mach_header __dso_handle;

os_activity_t _os_activity_create(void *dso, const char *description, os_activity_t activity,
                                  os_activity_flag_t flags);
void os_activity_scope_enter(os_activity_t activity, os_activity_scope_state_t state);
void os_activity_scope_leave(os_activity_scope_state_t state);
#endif
