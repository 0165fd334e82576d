// Client transports by target URI, through the registry.
#include <fmt/format.h>

#include "transport/client_connection.h"
#include "transport/registry.h"

namespace edgeserve::transport {

core::Result<std::unique_ptr<ClientConnection>> connect(const std::string& target, const ConnectOptions& options) {
  const TransportEntry* t = find_transport(target);
  if (const std::string why = not_built_in(target); !why.empty())
    return core::Status(core::StatusCode::kInvalidArgument, fmt::format("target '{}': {}", target, why));
  if (t == nullptr)
    return core::Status(core::StatusCode::kInvalidArgument,
                        fmt::format("unknown target '{}': expected {}", target, accepted_addresses(false)));
  // Settings meant for another transport would be silently ignored here: say so instead.
  for (const auto& [scheme, settings] : options.settings.all())
    if (scheme != t->scheme && settings)
      return core::Status(core::StatusCode::kInvalidArgument,
                          fmt::format("{} are for {}:// targets, not {}", settings->what(), scheme, target));
  return t->connect(target, options);
}

}  // namespace edgeserve::transport
