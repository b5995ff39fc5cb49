/*
 * cpubench - a deterministic CPU-bound workload for measuring guest
 * instructions per second: integer arithmetic, loops, calls and memory
 * traffic, with no I/O inside the timed part. iters=N on the command line
 * sets the number of rounds (about 670 thousand guest instructions each, so
 * iters=500 runs a few hundred million).
 *
 * Each kernel is also checked against a known answer, so a wrong CPU shows
 * up as a failure and not just as a different checksum.
 */
#include "guest.h"

#define SIEVE_LIMIT 8192
#define CRC_BYTES 4096
#define MATRIX 24
#define SORT_N 512

static uint8_t composite[SIEVE_LIMIT];
static uint8_t data[CRC_BYTES];
static int32_t ma[MATRIX][MATRIX], mb[MATRIX][MATRIX], mc[MATRIX][MATRIX];
static uint32_t keys[SORT_N];

static uint32_t sieve(void)
{
    memset(composite, 0, sizeof composite);
    uint32_t primes = 0;
    for (uint32_t i = 2; i < SIEVE_LIMIT; i++) {
        if (composite[i])
            continue;
        primes++;
        for (uint32_t j = i * i; j < SIEVE_LIMIT; j += i)
            composite[j] = 1;
    }
    return primes;
}

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit. */
static uint32_t crc32(const uint8_t *p, uint32_t n)
{
    uint32_t crc = 0xffffffff;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
    }
    return ~crc;
}

static uint32_t matrix_multiply(uint32_t seed)
{
    for (int i = 0; i < MATRIX; i++)
        for (int j = 0; j < MATRIX; j++) {
            ma[i][j] = (int32_t)((i * 7 + j * 3 + seed) % 19) - 9;
            mb[i][j] = (int32_t)((i * 5 + j * 11 + seed) % 23) - 11;
        }
    uint32_t trace = 0;
    for (int i = 0; i < MATRIX; i++)
        for (int j = 0; j < MATRIX; j++) {
            int32_t sum = 0;
            for (int k = 0; k < MATRIX; k++)
                sum += ma[i][k] * mb[k][j];
            mc[i][j] = sum;
        }
    for (int i = 0; i < MATRIX; i++)
        trace += (uint32_t)mc[i][i];
    return trace;
}

static void quicksort(uint32_t *a, int lo, int hi)
{
    while (lo < hi) {
        uint32_t pivot = a[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                uint32_t t = a[i]; a[i] = a[j]; a[j] = t;
                i++, j--;
            }
        }
        quicksort(a, lo, j);    /* recurse on one side, loop on the other */
        lo = i;
    }
}

/* Returns a hash of the sorted keys, or 0 if they are not in order. */
static uint32_t sort(uint32_t seed)
{
    uint32_t x = seed;
    for (int i = 0; i < SORT_N; i++) {
        x = x * 1103515245 + 12345;     /* the ANSI C example LCG */
        keys[i] = x >> 8;
    }
    quicksort(keys, 0, SORT_N - 1);
    uint32_t h = HASH_INIT;
    for (int i = 0; i < SORT_N; i++) {
        if (i && keys[i - 1] > keys[i])
            return 0;
        h = hash_word(h, keys[i]);
    }
    return h;
}

static uint32_t fib(uint32_t n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

static bool known_answers(void)
{
    bool ok = true;
    uint32_t primes = sieve(), crc = crc32((const uint8_t *)"123456789", 9), f = fib(20);
    printf("sieve: %u primes below %u\n", primes, SIEVE_LIMIT);
    printf("crc32(\"123456789\") = %08x\n", crc);
    printf("fib(20) = %u\n", f);
    CHECK(primes == 1028, "pi(8192) = 1028");
    CHECK(crc == 0xcbf43926, "CRC-32 check value is cbf43926");
    CHECK(f == 6765, "fib(20) = 6765");
    ok = primes == 1028 && crc == 0xcbf43926 && f == 6765;
    return ok;
}

int guest_main(void)
{
    uint32_t iters = cmdline_uint("iters", 10);
    printf("cpubench: %u iterations\n", iters);
    if (!known_answers())
        return 1;
    uint32_t sum = HASH_INIT;
    for (uint32_t it = 0; it < iters; it++) {
        for (int i = 0; i < CRC_BYTES; i++)
            data[i] = (uint8_t)(i * 31 + it);
        sum = hash_word(sum, sieve());
        sum = hash_word(sum, crc32(data, CRC_BYTES));
        sum = hash_word(sum, matrix_multiply(it));
        uint32_t sorted = sort(it + 1);
        CHECK(sorted != 0, "iteration %u: keys not sorted", it);
        sum = hash_word(sum, sorted);
        sum = hash_word(sum, fib(15));
    }
    printf("cpubench: checksum %08x\n", sum);
    return checks_failed ? 1 : 0;
}
