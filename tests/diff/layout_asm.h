/* layout_asm.h - the one layout.h constant the assembly needs (keep equal). */
#define CODE_BASE_ASM 0x01000000
