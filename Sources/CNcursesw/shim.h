// Header-only shim over ncursesw for Swift (notes/tui-anchors.md §6): SwiftPM
// drops the pkg-config -D flags, so wide-character APIs need these defines, and
// the macros Swift cannot import become static inline accessors.
#ifndef MT_CNCURSESW_SHIM_H
#define MT_CNCURSESW_SHIM_H
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 600
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <langinfo.h>
#include <wchar.h>
#include <ncurses.h>

static inline WINDOW *mt_stdscr(void) { return stdscr; }
static inline int mt_lines(void) { return LINES; }
static inline int mt_cols(void) { return COLS; }
static inline int mt_colors(void) { return COLORS; }
static inline int mt_color_pairs(void) { return COLOR_PAIRS; }
static inline int mt_key_f(int n) { return KEY_F(n); }
static inline attr_t mt_A_BOLD(void) { return A_BOLD; }
static inline attr_t mt_A_DIM(void) { return A_DIM; }
static inline attr_t mt_A_REVERSE(void) { return A_REVERSE; }
static inline attr_t mt_A_UNDERLINE(void) { return A_UNDERLINE; }
static inline attr_t mt_A_ITALIC(void) { return A_ITALIC; }
static inline attr_t mt_A_NORMAL(void) { return A_NORMAL; }
static inline mmask_t mt_BUTTON1_PRESSED(void) { return BUTTON1_PRESSED; }
static inline mmask_t mt_BUTTON1_CLICKED(void) { return BUTTON1_CLICKED; }
static inline mmask_t mt_BUTTON4_PRESSED(void) { return BUTTON4_PRESSED; }
static inline mmask_t mt_BUTTON5_PRESSED(void) { return BUTTON5_PRESSED; }
static inline mmask_t mt_ALL_MOUSE_EVENTS(void) { return ALL_MOUSE_EVENTS; }
static inline void mt_getmaxyx(WINDOW *w, int *y, int *x) { getmaxyx(w, *y, *x); }
static inline int mt_hline(int y, int x, int n) { return mvhline_set(y, x, WACS_HLINE, n); }
static inline int mt_vline(int y, int x, int n) { return mvvline_set(y, x, WACS_VLINE, n); }
#endif
