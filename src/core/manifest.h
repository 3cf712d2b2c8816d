/* vmkeep — the manifest of an image export (manifest.json), parsed (pure).
 *
 *   { "format": "vmkeep-image-export", "version": 1, "image": "NAME",
 *     "members": [ { "name": "state.sav", "size": 123, "sha256": "…" }, … ],
 *     … other members are ignored }
 *
 * The manifest comes from whoever made the export: it is parsed with a
 * nesting limit (json-glib's parser recurses per level, so a document
 * nested 100,000 deep would overflow the stack) and every field is checked
 * for its type before use. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VK_MANIFEST_FORMAT "vmkeep-image-export"
#define VK_MANIFEST_VERSION 1
/* Deeper than anything a manifest needs (3), far below any stack limit. */
#define VK_MANIFEST_MAX_DEPTH 16

typedef struct {
  char *name;
  guint64 size;
  char *sha256;   /* 64 hex digits, lower case */
} VkManifestMember;

typedef struct {
  char *image;        /* NULL when the manifest does not name one */
  GPtrArray *members; /* VkManifestMember* in the manifest's order */
} VkManifest;

void vk_manifest_free (VkManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkManifest, vk_manifest_free)

/* Parse and check `text`; VK_ERROR_REFUSED naming `source` and the field:
 * not JSON, nested too deep, not a vmkeep export manifest, another
 * version, members not an array of {name: string, size: integer >= 0,
 * sha256: 64 hex digits}, a name listed twice. */
VkManifest *vk_manifest_parse (const char *text, gsize len, const char *source,
                               GError **error);

/* The nesting depth of JSON text (brackets outside strings), counting up
 * to `limit` + 1 at most; also how deep a text would make json-glib
 * recurse. */
guint vk_json_depth (const char *text, gsize len, guint limit);

G_END_DECLS
