// thread_annotations.h — Clang's thread-safety annotations, and a mutex and
// a lock that carry them. This file is private to the runtime.
//
// The lock rules of the GIL's state are written in its declarations
// (GUARDED_BY(mutex_), REQUIRES(mutex_)) and checked by the compiler: the CI
// stage "thread-safety" builds the runtime with clang and
// -Wthread-safety -Werror=thread-safety (.ci/run). Other compilers see
// nothing. libstdc++'s std::mutex carries no annotations, hence
// AnnotatedMutex and AnnotatedLock, thin wrappers as marl writes them
// (marl/mutex.h).
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define GILRUN_TSA(x) __attribute__((x))
#else
#define GILRUN_TSA(x)
#endif

#define CAPABILITY(x) GILRUN_TSA(capability(x))
#define SCOPED_CAPABILITY GILRUN_TSA(scoped_lockable)
#define GUARDED_BY(x) GILRUN_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) GILRUN_TSA(pt_guarded_by(x))
#define REQUIRES(...) GILRUN_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) GILRUN_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) GILRUN_TSA(release_capability(__VA_ARGS__))
#define EXCLUDES(...) GILRUN_TSA(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS GILRUN_TSA(no_thread_safety_analysis)

namespace gilrun {

// AnnotatedMutex is std::mutex as a capability.
class CAPABILITY("mutex") AnnotatedMutex {
 public:
  void lock() ACQUIRE() { mutex_.lock(); }
  void unlock() RELEASE() { mutex_.unlock(); }
  std::mutex& native() { return mutex_; }

 private:
  std::mutex mutex_;
};

// AnnotatedLock holds an AnnotatedMutex for its scope, like std::unique_lock,
// and can be let go and taken again; condition variables wait on native().
class SCOPED_CAPABILITY AnnotatedLock {
 public:
  explicit AnnotatedLock(AnnotatedMutex& mutex) ACQUIRE(mutex) : lock_(mutex.native()) {}
  ~AnnotatedLock() RELEASE() {}
  void lock() ACQUIRE() { lock_.lock(); }
  void unlock() RELEASE() { lock_.unlock(); }
  // native() is the lock for std::condition_variable: a wait lets the
  // mutex go and has it again when it returns, so the capability holds.
  std::unique_lock<std::mutex>& native() { return lock_; }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace gilrun
