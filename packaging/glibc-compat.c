// Linked into the packaged binary only (scripts/package), with --wrap for each symbol below, so that it runs on
// glibc 2.34 (Enterprise Linux 9) although it is built on a newer one. Each call binds to a version 2.34 has.
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

// The math functions' new versions (2.35) only changed the error handling of the old ones, which stay exported.
__asm__(".symver hypot_2_2_5, hypot@GLIBC_2.2.5");
__asm__(".symver hypotf_2_2_5, hypotf@GLIBC_2.2.5");
double hypot_2_2_5(double, double);
float hypotf_2_2_5(float, float);

double __wrap_hypot(double x, double y) { return hypot_2_2_5(x, y); }
float __wrap_hypotf(float x, float y) { return hypotf_2_2_5(x, y); }

// arc4random (2.36, used by libstdc++'s std::random_device): the kernel's random bytes, as glibc takes them.
uint32_t __wrap_arc4random(void) {
    uint32_t value;
    for (;;) {
        ssize_t got = getrandom(&value, sizeof value, 0);
        if (got == (ssize_t)sizeof value) return value;
        if (got < 0 && errno != EINTR) __builtin_trap();
    }
}
