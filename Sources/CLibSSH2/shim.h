// libssh2 for the in-process SSH transport (MitogenSSH2, DESIGN §6).
#include <libssh2.h>
