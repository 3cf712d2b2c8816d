/* Fuzz harness: the documents of an OCI image layout (src/core/oci.c).
 *
 * index.json, the image manifest and oci-layout come from whoever made the
 * image or from a registry. The first byte of the input picks the document
 * (and for the index whether a ref name is asked for); the rest is its
 * text. Besides "no crash": what is accepted is what oci.h promises
 * (well-formed sha256 digests, titles printable and given once, no more
 * than VK_OCI_LAYERS_MAX layers), and an accepted manifest written back
 * by vk_oci_manifest_text reads back to the same layers (the text vmkeep
 * writes for what it read is a manifest it accepts). */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "oci.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  return 0;
}

static void
check_descriptor (const VkOciDescriptor *d)
{
  vk_fuzz_check (vk_oci_digest_ok (d->digest), "digest %s", d->digest);
  vk_fuzz_check (d->media_type != NULL && d->media_type[0] != '\0', "media type");
  vk_fuzz_check (g_utf8_validate (d->media_type, -1, NULL), "media type not UTF-8");
  vk_fuzz_check (d->size <= (guint64) G_MAXINT64, "size");
  if (d->title)
    {
      vk_fuzz_check (g_utf8_validate (d->title, -1, NULL), "title not UTF-8");
      for (const char *p = d->title; *p; p++)
        vk_fuzz_check ((guchar) *p >= 0x20 && *p != 0x7f, "control character in a title");
    }
}

/* A layer the importer takes is a file of an image's directory: never a
 * path that leaves it, and disks only below disks/. */
static void
check_layer_kind (const VkOciDescriptor *d)
{
  g_autoptr(GError) error = NULL;
  VkOciLayerKind kind;
  gboolean zstd = FALSE;
  if (!vk_oci_layer_kind (d, "fuzz", &kind, &zstd, &error))
    {
      vk_fuzz_check_error (error, "vk_oci_layer_kind");
      return;
    }
  vk_fuzz_check (d->title != NULL && strstr (d->title, "..") == NULL &&
                 d->title[0] != '/' && strchr (d->title, '\\') == NULL, "unsafe title taken");
  vk_fuzz_check ((kind == VK_OCI_LAYER_DISK || kind == VK_OCI_LAYER_BASE) ==
                 g_str_has_prefix (d->title, "disks/"), "a disk outside disks/");
  vk_fuzz_check (!zstd || g_str_has_suffix (d->media_type, VK_OCI_ZSTD_SUFFIX), "zstd unmarked");
}

static void
manifest (const char *text, gsize len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkOciManifest) m = vk_oci_manifest_parse (text, len, "fuzz", &error);
  if (m == NULL)
    {
      vk_fuzz_check_error (error, "vk_oci_manifest_parse");
      return;
    }
  vk_fuzz_check (g_strcmp0 (m->artifact_type, VK_OCI_ARTIFACT_TYPE) == 0, "artifact type");
  vk_fuzz_check (m->layers->len <= VK_OCI_LAYERS_MAX, "%u layers", m->layers->len);
  g_autoptr(GHashTable) titles = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < m->layers->len; i++)
    {
      const VkOciDescriptor *d = m->layers->pdata[i];
      check_descriptor (d);
      vk_fuzz_check (d->title == NULL || g_hash_table_add (titles, d->title), "title twice");
      check_layer_kind (d);
    }
  g_autofree char *again = vk_oci_manifest_text (m);
  g_autoptr(VkOciManifest) back = vk_oci_manifest_parse (again, strlen (again), "again", &error);
  vk_fuzz_check (back != NULL, "the manifest written back is refused: %s",
                 error ? error->message : "?");
  vk_fuzz_check (back->layers->len == m->layers->len, "layers lost in the round trip");
  for (guint i = 0; i < m->layers->len; i++)
    {
      const VkOciDescriptor *a = m->layers->pdata[i], *b = back->layers->pdata[i];
      vk_fuzz_check (g_str_equal (a->media_type, b->media_type) &&
                       g_str_equal (a->digest, b->digest) && a->size == b->size &&
                       g_strcmp0 (a->title, b->title) == 0,
                     "layer %u changed in the round trip", i);
    }
  vk_fuzz_check (g_strcmp0 (m->created, back->created) == 0, "created changed");
  vk_fuzz_check (g_strcmp0 (m->title, back->title) == 0, "title changed");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const char *text = (const char *) data + 1;
  gsize len = size - 1;
  g_autoptr(GError) error = NULL;
  switch (data[0] % 4)
    {
    case 0:
      manifest (text, len);
      break;
    case 1:
    case 2:
      {
        const char *ref = data[0] % 4 == 1 ? "web-1" : NULL;
        g_autoptr(VkOciDescriptor) d = vk_oci_index_find (text, len, ref, "fuzz", &error);
        if (d == NULL)
          vk_fuzz_check_error (error, "vk_oci_index_find");
        else
          {
            check_descriptor (d);
            vk_fuzz_check (g_str_equal (d->media_type, VK_OCI_MEDIA_MANIFEST), "not a manifest");
            vk_fuzz_check (ref == NULL || g_strcmp0 (d->title, ref) == 0, "another ref name");
          }
        break;
      }
    default:
      if (!vk_oci_layout_parse (text, len, "fuzz", &error))
        vk_fuzz_check_error (error, "vk_oci_layout_parse");
      break;
    }
  return 0;
}
