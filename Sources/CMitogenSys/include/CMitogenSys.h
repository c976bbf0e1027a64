// The few system calls Swift must not make itself (STYLE.md habit 4).
#ifndef CMITOGENSYS_H
#define CMITOGENSYS_H
#endif
