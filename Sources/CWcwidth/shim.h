// glibc's wcwidth(3) for the console's text widths, without curses: the
// function is in libc, but Swift's Glibc module leaves it out (<wchar.h>
// declares it only under _XOPEN_SOURCE), so declare it here. Nothing to link.
#ifndef MT_CWCWIDTH_SHIM_H
#define MT_CWCWIDTH_SHIM_H
#include <stddef.h>

int wcwidth(wchar_t c);
#endif
