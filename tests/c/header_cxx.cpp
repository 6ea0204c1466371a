// The header must compile as C++ (11 and 20) with warnings as errors.
#include <netring.h>

int main()
{
    nr_capture_config cfg;
    NR_CAPTURE_CONFIG_INIT(&cfg);
    nr_capture *cap = nullptr;
    return nr_capture_open(nullptr, &cfg, &cap) == NR_E_INVALID_ARG ? 0 : 1;
}
