/* Stand-in for the Apple SDK's <os/log.h> (see README.md): the declarations tracing-oslog's
 * bindgen asks for, with the types of Apple's public header. */
#ifndef REENROLL_STUB_OS_LOG_H
#define REENROLL_STUB_OS_LOG_H
#include <stdint.h>
#include <os/activity.h>

typedef struct os_log_s *os_log_t;

typedef enum : uint8_t {
    OS_LOG_TYPE_DEFAULT = 0x00,
    OS_LOG_TYPE_INFO = 0x01,
    OS_LOG_TYPE_DEBUG = 0x02,
    OS_LOG_TYPE_ERROR = 0x10,
    OS_LOG_TYPE_FAULT = 0x11,
} os_log_type_t;

extern struct os_log_s _os_log_default;
#define OS_LOG_DEFAULT ((os_log_t)&_os_log_default)

os_log_t os_log_create(const char *subsystem, const char *category);
void os_release(void *object);
/* Apple's os_log_with_type is a macro over _os_log_impl; a prototype is all bindgen needs. */
void os_log_with_type(os_log_t log, os_log_type_t type, const char *format, ...);
#endif
