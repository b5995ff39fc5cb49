/*
 * calls.c - the syscalls scenario: each system call once, with its result.
 * Only facts that do not depend on timing are printed.
 */
#include "user.h"

static const char greeting[] = "calls: hello from ring 3\n";

static void check_heap(void)
{
    char *old_end = sbrk(8192);
    int zero = 1;
    for (int i = 0; i < 8192; i++)
        zero &= old_end[i] == 0;             /* demand-zero pages */
    for (int i = 0; i < 8192; i++)
        old_end[i] = (char)i;
    int kept = 1;
    for (int i = 0; i < 8192; i++)
        kept &= old_end[i] == (char)i;
    printf("calls: sbrk(8192): new pages read as zero: %s, keep writes: %s\n",
           zero ? "yes" : "no", kept ? "yes" : "no");
    char *end = sbrk(-8192);
    printf("calls: sbrk(-8192) gives them back: %s\n",
           end == old_end + 8192 && sbrk(0) == old_end ? "yes" : "no");
}

int main(uint32_t unused0, uint32_t unused1)
{
    (void)unused0;
    (void)unused1;
    int n = write(1, greeting, sizeof(greeting) - 1);
    printf("calls: write returned %d\n", n);
    printf("calls: write from a kernel address returned %d\n",
           write(1, (const void *)0x100000, 16));
    printf("calls: write to fd 7 returned %d\n", write(7, greeting, 4));
    printf("calls: getpid returned %d\n", getpid());
    printf("calls: yield returned %d\n", yield());
    int before = uptime();
    sleep(3);
    printf("calls: sleep(3) slept at least 3 ticks: %s\n",
           uptime() - before >= 3 ? "yes" : "no");
    check_heap();
    printf("calls: system call 99 returned %d\n", syscall3(99, 0, 0, 0));
    printf("calls: exit(7)\n");
    exit(7);
}
