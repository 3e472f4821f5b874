// Umbrella header: everything a user of the C++ API needs.
#pragma once

#include "w4a8/device.h"
#include "w4a8/half.h"
#include "w4a8/io.h"
#include "w4a8/linear.h"
#include "w4a8/ops.h"
#include "w4a8/status.h"
#include "w4a8/tensor.h"
#include "w4a8/version.h"
