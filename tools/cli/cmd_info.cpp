// w4a8 info: version, build options, CPU features, backends, GPUs.
#include <fmt/core.h>

#include "cli/commands.h"
#include "w4a8/w4a8.h"

namespace w4a8::cli {

void add_info_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Version, build options, CPU features, backends and GPUs");
  cmd->callback([] {
    fmt::print("w4a8 {}\n", W4A8_VERSION);
    fmt::print("build: CUDA {}, compiler {}\n", W4A8_WITH_CUDA ? "on" : "off",
#if defined(__clang__)
               "clang " __clang_version__
#elif defined(__GNUC__)
               "g++ " __VERSION__
#else
               "unknown"
#endif
    );
    const CpuFeatures& cpu = cpu_features();
    fmt::print("cpu: {}\n     features: {}\n     threads: {}\n", cpu.brand.empty() ? "unknown" : cpu.brand,
               cpu.summary(), num_threads());
    std::string levels;
    bool usable = false;
    for (const std::string& l : cpu_kernels()) {
      levels += (levels.empty() ? "" : " ") + l;
      usable = usable || l == cpu_kernel();
    }
    if (usable)
      fmt::print("     kernels: {} (in use: {})\n", levels, cpu_kernel());
    else  // W4A8_CPU_KERNEL named a level this CPU cannot run: the cpu backend's forwards fail
      fmt::print("     kernels: {} (W4A8_CPU_KERNEL={} cannot run here: the cpu backend refuses to compute)\n", levels,
                 cpu_kernel());
    fmt::print("backends:\n");
    for (const BackendInfo& b : list_backends()) {
      fmt::print("  {:<12} {:<7} {:<14} {}\n", b.name, device_name(b.device),
                 b.available ? "available" : "unavailable",
                 b.available ? b.description : b.unavailable_reason);
    }
    std::string why;
    const auto gpus = list_gpus(&why);
    if (gpus.empty()) fmt::print("gpus: none ({})\n", why);
    for (const GpuInfo& g : gpus) {
      fmt::print("gpu {}: {} (sm_{}{}), {} SMs, {:.1f} GiB, L2 {:.0f} MiB\n", g.index, g.name, g.compute_major,
                 g.compute_minor, g.multiprocessors, static_cast<double>(g.memory_bytes) / (1u << 30),
                 static_cast<double>(g.l2_bytes) / (1u << 20));
    }
  });
}

}  // namespace w4a8::cli
