// Definitions as XML files: assemblies, deployables and resource templates
// to and from text, checked against conf/schema/definitions.rng. Pure
// functions over strings; the store does the file I/O.
#pragma once

#include <string>

#include "messages/definitions.hpp"
#include "messages/shell.hpp"
#include "runtime/result.hpp"
#include "runtime/xml/schema.hpp"

namespace pcloud::runtime {

std::string to_xml(const msg::assembly_spec& x);
std::string to_xml(const msg::deployable_definition& x);

/// Parses and checks one file's text; errors read "ORIGIN: line N: ...".
result<msg::assembly_spec> assembly_from_xml(const std::string& text,
                                             const std::string& origin,
                                             const xml::schema& schema);
result<msg::deployable_definition>
deployable_from_xml(const std::string& text, const std::string& origin,
                    const xml::schema& schema);
result<msg::resource_template> template_from_xml(const std::string& text,
                                                 const std::string& origin,
                                                 const xml::schema& schema);

} // namespace pcloud::runtime
