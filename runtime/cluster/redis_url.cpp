// redis_url.cpp — parse_redis_url() (redis_url.h).
#include "cluster/redis_url.h"

#include <cstdlib>

namespace gilrun::cluster {
namespace {

bool parse_int(const std::string& s, long min, long max, long* out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  *out = std::strtol(s.c_str(), nullptr, 10);
  return *out >= min && *out <= max;
}

}  // namespace

bool parse_redis_url(const std::string& url, RedisUrl* out, std::string* error) {
  const std::string scheme = "redis://";
  auto fail = [&](const std::string& why) {
    *error = "bad Redis URL '" + url + "': " + why + " (expected redis://[:password@]HOST:PORT/DB)";
    return false;
  };
  if (url.compare(0, scheme.size(), scheme) != 0) return fail("it must start with redis://");
  std::string rest = url.substr(scheme.size());
  RedisUrl r;
  const size_t at = rest.rfind('@');
  if (at != std::string::npos) {
    const std::string userinfo = rest.substr(0, at);
    const size_t colon = userinfo.find(':');
    r.password = colon == std::string::npos ? userinfo : userinfo.substr(colon + 1);
    rest = rest.substr(at + 1);
  }
  std::string hostport = rest, path;
  if (const size_t slash = rest.find('/'); slash != std::string::npos) {
    hostport = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (const size_t q = path.find('?'); q != std::string::npos) path.resize(q);
  if (const size_t colon = hostport.rfind(':');
      colon != std::string::npos && hostport.find(']') == std::string::npos) {
    long port = 0;
    if (!parse_int(hostport.substr(colon + 1), 1, 65535, &port)) return fail("bad port");
    r.port = static_cast<int>(port);
    hostport.resize(colon);
  }
  if (hostport.size() > 2 && hostport.front() == '[' && hostport.back() == ']')
    hostport = hostport.substr(1, hostport.size() - 2);
  if (hostport.empty()) return fail("no host");
  r.host = hostport;
  if (!path.empty()) {
    long db = 0;
    if (!parse_int(path, 0, 1 << 20, &db)) return fail("the database must be a number");
    r.db = static_cast<int>(db);
  }
  r.text = r.password.empty() ? url : "redis://:***@" + rest;
  *out = r;
  return true;
}

}  // namespace gilrun::cluster
