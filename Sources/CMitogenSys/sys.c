#include "CMitogenSys.h"
