// sanitizers.h — GILRUN_SANITIZED is defined in the TSan and ASan builds, for
// the few tests that cannot run there (address-space limits: the sanitizers
// reserve terabytes of it).
#pragma once

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define GILRUN_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define GILRUN_SANITIZED 1
#endif
#endif
