/* spf_request.h: everything is declared in spf.h (fastspf's libspf2.so.2). */
#include "spf.h"
