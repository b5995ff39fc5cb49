/*
 * note.S - the same PV note and upcall entry as pvcheck's: this image is a
 * pv guest (core/pv/abi.h), and its upcalls return through the hypercall
 * page's iret entry.
 */
#include "../pvcheck/note.S"
