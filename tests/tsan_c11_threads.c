/* C11 threads over pthreads, preloaded into make test-tsan's processes (docs/testing.md, "Kafka
 * under TSan").
 *
 * Debian's librdkafka starts its threads with glibc's C11 thrd_create and locks with mtx_* and
 * cnd_* (nm -D librdkafka.so.1: U thrd_create@GLIBC_2.34). glibc implements them by calling its
 * pthread functions internally, past ThreadSanitizer's interceptors, so TSan never sees those
 * threads start (the runtime then crashes on their first malloc) nor their locks (it would report
 * every hand-over through a librdkafka queue as a race). This library defines the C11 functions
 * librdkafka imports on top of the public pthread functions; preloaded (LD_PRELOAD), its
 * definitions come before libc's, and its pthread calls reach TSan's interceptors. It is built
 * without instrumentation: it only forwards.
 *
 * glibc's thrd_t, mtx_t, cnd_t and once_flag have the layout of pthread_t, pthread_mutex_t,
 * pthread_cond_t and pthread_once_t (glibc's own C11 functions cast them so).
 *
 * librdkafka's rwlocks (pthread_rwlock_*, called directly) are forwarded here too: tsan.supp
 * names librdkafka in called_from_lib, which makes TSan pass every interceptor librdkafka calls
 * itself straight through, its locks included; called from this library instead, they count.
 * Only with a TSan runtime that is a shared library (gcc's libtsan.so, what make test-tsan uses):
 * clang's static runtime defines the pthread functions in the executable, before this library. */
#define _GNU_SOURCE  // RTLD_NEXT
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is glibc's pthread_mutex_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is glibc's pthread_cond_t");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is glibc's pthread_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is glibc's pthread_once_t");

static int thrd_status(int pthread_result) {
  switch (pthread_result) {
    case 0: return thrd_success;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    case ENOMEM: return thrd_nomem;
    default: return thrd_error;
  }
}

/* A C11 start function returns int, a pthread one void *: the trampoline carries the result. */
struct start {
  thrd_start_t function;
  void *argument;
};

static void *run_start(void *opaque) {
  struct start start = *(struct start *)opaque;
  free(opaque);
  return (void *)(intptr_t)start.function(start.argument);
}

int thrd_create(thrd_t *thread, thrd_start_t function, void *argument) {
  struct start *start = malloc(sizeof *start);
  if (start == NULL) return thrd_nomem;
  start->function = function;
  start->argument = argument;
  int result = pthread_create((pthread_t *)thread, NULL, run_start, start);
  if (result != 0) free(start);
  return thrd_status(result);
}

int thrd_join(thrd_t thread, int *result) {
  void *value = NULL;
  int status = pthread_join((pthread_t)thread, &value);
  if (status == 0 && result != NULL) *result = (int)(intptr_t)value;
  return thrd_status(status);
}

int thrd_detach(thrd_t thread) { return thrd_status(pthread_detach((pthread_t)thread)); }

_Noreturn void thrd_exit(int result) { pthread_exit((void *)(intptr_t)result); }

int mtx_init(mtx_t *mutex, int type) {
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_RECURSIVE);
  int result = pthread_mutex_init((pthread_mutex_t *)mutex, &attributes);
  pthread_mutexattr_destroy(&attributes);
  return thrd_status(result);
}

int mtx_lock(mtx_t *mutex) { return thrd_status(pthread_mutex_lock((pthread_mutex_t *)mutex)); }

int mtx_trylock(mtx_t *mutex) {
  return thrd_status(pthread_mutex_trylock((pthread_mutex_t *)mutex));
}

int mtx_timedlock(mtx_t *restrict mutex, const struct timespec *restrict until) {
  return thrd_status(pthread_mutex_timedlock((pthread_mutex_t *)mutex, until));
}

int mtx_unlock(mtx_t *mutex) {
  return thrd_status(pthread_mutex_unlock((pthread_mutex_t *)mutex));
}

void mtx_destroy(mtx_t *mutex) { pthread_mutex_destroy((pthread_mutex_t *)mutex); }

int cnd_init(cnd_t *condition) {
  return thrd_status(pthread_cond_init((pthread_cond_t *)condition, NULL));
}

int cnd_signal(cnd_t *condition) {
  return thrd_status(pthread_cond_signal((pthread_cond_t *)condition));
}

int cnd_broadcast(cnd_t *condition) {
  return thrd_status(pthread_cond_broadcast((pthread_cond_t *)condition));
}

int cnd_wait(cnd_t *condition, mtx_t *mutex) {
  return thrd_status(pthread_cond_wait((pthread_cond_t *)condition, (pthread_mutex_t *)mutex));
}

/* C11 measures `until` on TIME_UTC, the same clock as pthread_cond_timedwait's default. */
int cnd_timedwait(cnd_t *restrict condition, mtx_t *restrict mutex,
                  const struct timespec *restrict until) {
  return thrd_status(pthread_cond_timedwait((pthread_cond_t *)condition,
                                            (pthread_mutex_t *)mutex, until));
}

void cnd_destroy(cnd_t *condition) { pthread_cond_destroy((pthread_cond_t *)condition); }

void call_once(once_flag *flag, void (*function)(void)) {
  pthread_once((pthread_once_t *)flag, function);
}

/* The next definition after this library: TSan's interceptor, or libc's in an uninstrumented
 * process (kcat, bash). */
#define NEXT(name, ...)                                                              \
  static int (*next)(__VA_ARGS__);                                                   \
  if (next == NULL) *(void **)&next = dlsym(RTLD_NEXT, name);                        \
  if (next == NULL) return EINVAL

int pthread_rwlock_init(pthread_rwlock_t *restrict lock,
                        const pthread_rwlockattr_t *restrict attributes) {
  NEXT("pthread_rwlock_init", pthread_rwlock_t *, const pthread_rwlockattr_t *);
  return next(lock, attributes);
}

int pthread_rwlock_rdlock(pthread_rwlock_t *lock) {
  NEXT("pthread_rwlock_rdlock", pthread_rwlock_t *);
  return next(lock);
}

int pthread_rwlock_wrlock(pthread_rwlock_t *lock) {
  NEXT("pthread_rwlock_wrlock", pthread_rwlock_t *);
  return next(lock);
}

int pthread_rwlock_unlock(pthread_rwlock_t *lock) {
  NEXT("pthread_rwlock_unlock", pthread_rwlock_t *);
  return next(lock);
}

/* librdkafka destroys a handle's rwlock after the last reader's unlock, ordered by a reference
 * count (an uninstrumented atomic). Taking and releasing the write lock first makes that order
 * visible to TSan; on a lock nobody holds, as destroy requires, it changes nothing. */
int pthread_rwlock_destroy(pthread_rwlock_t *lock) {
  if (pthread_rwlock_wrlock(lock) == 0) pthread_rwlock_unlock(lock);
  NEXT("pthread_rwlock_destroy", pthread_rwlock_t *);
  return next(lock);
}
