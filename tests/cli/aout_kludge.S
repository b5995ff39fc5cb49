/* A Multiboot kernel that vmlab must load by its header's a.out-kludge
 * addresses (flag bit 16, Multiboot 0.6.96 section 3.1.3), linked as a
 * flat binary with no ELF headers at all (tests/cli/run.sh: ld --oformat
 * binary at 0x100000). The header is not at the start of the file, so
 * header_addr must be what ties file offsets to addresses; the file goes
 * on past load_end_addr with bytes that must not be loaded (the bss there
 * must read zero). It checks all that itself and says "a.out kludge: ok"
 * (exit 0, vmlab status 1), or names what was wrong (exit 1, status 3). */
    .text
    .globl _start
image_start:
    jmp _start                  /* the header need not be first */
    .align 16
header:
    .long 0x1BADB002
    .long 0x00010000            /* the a.out kludge */
    .long -(0x1BADB002 + 0x00010000)
    .long header                /* header_addr */
.ifdef BAD_LOAD_ADDR
    .long header + 4            /* load_addr above header_addr: vmlab must refuse */
.else
    .long image_start           /* load_addr */
.endif
    .long load_end              /* load_end_addr */
    .long bss_end               /* bss_end_addr */
    .long _start                /* entry_addr */

_start:
    mov $bad_magic, %esi
    cmp $0x2BADB002, %eax
    jne fail
    mov $bad_data, %esi
    cmpl $0x12345678, data_word
    jne fail
    mov $bad_bss, %esi
    cmpl $0, bss_word
    jne fail
    mov $ok, %esi
    mov $0, %bl
    jmp print
fail:
    mov $1, %bl
print:
    mov $0x3f8, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx
    jmp 1b
2:  mov %bl, %al
    mov $0xf4, %dx
    out %al, %dx
    cli
    hlt

ok:        .asciz "a.out kludge: ok\n"
bad_magic: .asciz "a.out kludge: FAIL: EAX is not the Multiboot magic\n"
bad_data:  .asciz "a.out kludge: FAIL: data not at its load address\n"
bad_bss:   .asciz "a.out kludge: FAIL: bytes past load_end_addr were loaded\n"
    .align 4
data_word: .long 0x12345678
load_end:
bss_word:  .long 0xdeadbeef     /* in the file, but past load_end_addr: must read 0 */
    .fill 60, 1, 0xcc
bss_end:
