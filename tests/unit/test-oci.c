/* Unit tests for src/core/oci.c: the documents of an OCI image layout as
 * vmkeep writes them (image-spec 1.1: an artifact manifest with the empty
 * config, an index naming it) read back, and every malformed or foreign
 * document refused with a message naming the source and what is wrong. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "oci.h"
#include "vk-error.h"

#define D1 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D2 "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

static VkOciManifest *
sample (void)
{
  VkOciManifest *m = vk_oci_manifest_new ();
  g_ptr_array_add (m->layers, vk_oci_descriptor_new (VK_OCI_MEDIA_SIDECAR, D1, 1234, "image.xml"));
  g_ptr_array_add (m->layers, vk_oci_descriptor_new (VK_OCI_MEDIA_STATE VK_OCI_ZSTD_SUFFIX, D2,
                                                     99, "state.sav"));
  g_ptr_array_add (m->layers, vk_oci_descriptor_new (VK_OCI_MEDIA_QCOW2, D1, 0, "disks/vda.qcow2"));
  m->created = g_strdup ("2026-12-04T20:00:00Z");
  m->title = g_strdup ("web-1");
  return m;
}

static void
test_round_trip (void)
{
  g_autoptr(VkOciManifest) m = sample ();
  g_autofree char *text = vk_oci_manifest_text (m);
  g_autoptr(GError) error = NULL;
  g_autoptr(VkOciManifest) back = vk_oci_manifest_parse (text, strlen (text), "t", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->artifact_type, ==, VK_OCI_ARTIFACT_TYPE);
  g_assert_cmpstr (back->created, ==, m->created);
  g_assert_cmpstr (back->title, ==, "web-1");
  g_assert_cmpuint (back->layers->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      const VkOciDescriptor *a = m->layers->pdata[i], *b = back->layers->pdata[i];
      g_assert_cmpstr (a->media_type, ==, b->media_type);
      g_assert_cmpstr (a->digest, ==, b->digest);
      g_assert_cmpuint (a->size, ==, b->size);
      g_assert_cmpstr (a->title, ==, b->title);
    }
  /* image-spec: the empty config, and the artifact type on the manifest */
  g_assert_nonnull (strstr (text, "\"" VK_OCI_MEDIA_EMPTY "\""));
  g_assert_nonnull (strstr (text, VK_OCI_EMPTY_DIGEST));
  g_assert_nonnull (strstr (text, "\"schemaVersion\" : 2"));
  /* the same manifest is the same bytes, so the same digest */
  g_autofree char *again = vk_oci_manifest_text (back);
  g_assert_cmpstr (text, ==, again);
}

static void
test_empty_digest (void)
{
  g_autofree char *d = vk_oci_digest_of (VK_OCI_EMPTY_DATA, strlen (VK_OCI_EMPTY_DATA));
  g_assert_cmpstr (d, ==, VK_OCI_EMPTY_DIGEST);
  g_assert_true (vk_oci_digest_ok (D1));
  g_assert_false (vk_oci_digest_ok ("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  g_assert_false (vk_oci_digest_ok ("sha512:e3b0"));
  g_assert_false (vk_oci_digest_ok ("sha256:../../etc/passwd"));
  g_assert_false (vk_oci_digest_ok (NULL));
  g_autofree char *p = vk_oci_blob_path ("/x/l", D1);
  g_assert_cmpstr (p, ==, "/x/l/blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void
test_index (void)
{
  g_autoptr(VkOciDescriptor) md = vk_oci_descriptor_new (VK_OCI_MEDIA_MANIFEST, D2, 512, NULL);
  g_autofree char *text = vk_oci_index_text (md, VK_OCI_ARTIFACT_TYPE, "web-1");
  g_autoptr(GError) error = NULL;
  g_autoptr(VkOciDescriptor) found = vk_oci_index_find (text, strlen (text), "web-1", "t", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found->digest, ==, D2);
  g_assert_cmpuint (found->size, ==, 512);
  g_assert_cmpstr (found->title, ==, "web-1");
  g_autoptr(VkOciDescriptor) only = vk_oci_index_find (text, strlen (text), NULL, "t", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (only->digest, ==, D2);
  g_autoptr(VkOciDescriptor) none = vk_oci_index_find (text, strlen (text), "db", "L", &error);
  g_assert_null (none);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_cmpstr (error->message, ==, "L: the image index names no image 'db'");
}

static void
test_index_several (void)
{
  const char *text =
    "{\"schemaVersion\":2,\"manifests\":["
    "{\"mediaType\":\"" VK_OCI_MEDIA_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
    "\"annotations\":{\"" VK_OCI_REF_NAME "\":\"a\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"digest\":\"" D2 "\",\"size\":1},"
    "{\"mediaType\":\"" VK_OCI_MEDIA_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":2,"
    "\"annotations\":{\"" VK_OCI_REF_NAME "\":\"b\"}}]}";
  g_autoptr(GError) error = NULL;
  g_autoptr(VkOciDescriptor) b = vk_oci_index_find (text, strlen (text), "b", "t", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (b->digest, ==, D2);
  g_autoptr(VkOciDescriptor) any = vk_oci_index_find (text, strlen (text), NULL, "L", &error);
  g_assert_null (any);
  g_assert_cmpstr (error->message, ==, "L: the image index names several images; say which one");
}

static void
test_layout (void)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_oci_layout_parse (VK_OCI_LAYOUT_TEXT, strlen (VK_OCI_LAYOUT_TEXT), "t", &error));
  g_assert_no_error (error);
  const char *v2 = "{\"imageLayoutVersion\": \"2.0.0\"}";
  g_assert_false (vk_oci_layout_parse (v2, strlen (v2), "dir", &error));
  g_assert_cmpstr (error->message, ==, "dir: oci-layout is not of imageLayoutVersion 1.0.0");
}

/* Each manifest below is refused with the message given. */
static void
test_refused (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "not json", NULL },
    { "[1]", "S: the image manifest is not a JSON object" },
    { "{\"schemaVersion\":1}", "S: the image manifest has no schemaVersion 2" },
    { "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\"}",
      "S: the image manifest has another mediaType than " VK_OCI_MEDIA_MANIFEST },
    { "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}",
      "S: the manifest has no artifactType; it is not a vmkeep image (" VK_OCI_ARTIFACT_TYPE ")" },
    { "{\"schemaVersion\":2,\"artifactType\":\"application/vnd.cncf.helm.config.v1+json\"}",
      "S: the manifest is of artifact type application/vnd.cncf.helm.config.v1+json, not a vmkeep "
      "image (" VK_OCI_ARTIFACT_TYPE ")" },
    { "{\"schemaVersion\":2,\"artifactType\":\"" VK_OCI_ARTIFACT_TYPE "\",\"layers\":[]}",
      "S: the manifest's config is no descriptor" },
    { "{\"schemaVersion\":2,\"artifactType\":\"" VK_OCI_ARTIFACT_TYPE "\",\"config\":{\"mediaType\":"
      "\"a\",\"digest\":\"" D1 "\",\"size\":2}}", "S: the manifest has no layers array" },
    { "{\"schemaVersion\":2,\"artifactType\":\"" VK_OCI_ARTIFACT_TYPE "\",\"config\":{\"mediaType\":"
      "\"a\",\"digest\":\"" D1 "\",\"size\":2},\"layers\":[{\"mediaType\":\"a\",\"digest\":\"" D1
      "\",\"size\":-1}]}",
      "S: layer 1 of the manifest is malformed (it needs a mediaType, a sha256 digest, a size >= 0 "
      "and a printable title)" },
    { "{\"schemaVersion\":2,\"artifactType\":\"" VK_OCI_ARTIFACT_TYPE "\",\"config\":{\"mediaType\":"
      "\"a\",\"digest\":\"" D1 "\",\"size\":2},\"layers\":[{\"mediaType\":\"a\",\"digest\":\"md5:x\","
      "\"size\":1}]}", NULL },
    { "{\"schemaVersion\":2,\"artifactType\":\"" VK_OCI_ARTIFACT_TYPE "\",\"config\":{\"mediaType\":"
      "\"a\",\"digest\":\"" D1 "\",\"size\":2},\"layers\":[{\"mediaType\":\"a\",\"digest\":\"" D1
      "\",\"size\":1,\"annotations\":{\"" VK_OCI_TITLE "\":\"a\\nb\"}}]}", NULL },
    { "{\"schemaVersion\":2,\"artifactType\":\"" VK_OCI_ARTIFACT_TYPE "\",\"config\":{\"mediaType\":"
      "\"a\",\"digest\":\"" D1 "\",\"size\":2},\"layers\":[{\"mediaType\":\"a\",\"digest\":\"" D1
      "\",\"size\":1,\"annotations\":{\"" VK_OCI_TITLE "\":\"x\"}},{\"mediaType\":\"a\",\"digest\":\""
      D2 "\",\"size\":1,\"annotations\":{\"" VK_OCI_TITLE "\":\"x\"}}]}",
      "S: the manifest names file 'x' twice" },
    { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      "S: the image manifest is nested deeper than 16 levels" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VkOciManifest) m = vk_oci_manifest_parse (cases[i].text, strlen (cases[i].text),
                                                          "S", &error);
      if (m != NULL)
        g_error ("case %zu accepted: %s", i, cases[i].text);
      g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
      g_assert_true (g_str_has_prefix (error->message, "S: "));
      if (cases[i].message)
        g_assert_cmpstr (error->message, ==, cases[i].message);
    }
}

static void
test_too_many_layers (void)
{
  g_autoptr(VkOciManifest) m = vk_oci_manifest_new ();
  for (guint i = 0; i <= VK_OCI_LAYERS_MAX; i++)
    g_ptr_array_add (m->layers, vk_oci_descriptor_new ("a", D1, i, NULL));
  g_autofree char *text = vk_oci_manifest_text (m);
  g_autoptr(GError) error = NULL;
  g_autoptr(VkOciManifest) back = vk_oci_manifest_parse (text, strlen (text), "S", &error);
  g_assert_null (back);
  g_assert_cmpstr (error->message, ==, "S: the manifest lists 1025 layers, more than 1024");
}

static void
test_layer_kind (void)
{
  static const struct {
    const char *title, *media;
    int kind;      /* -1: refused */
    gboolean zstd;
  } cases[] = {
    { "image.xml", VK_OCI_MEDIA_SIDECAR, VK_OCI_LAYER_SIDECAR, FALSE },
    { "state.sav", VK_OCI_MEDIA_STATE, VK_OCI_LAYER_STATE, FALSE },
    { "state.sav", VK_OCI_MEDIA_STATE "+zstd", VK_OCI_LAYER_STATE, TRUE },
    { "nvram.fd", VK_OCI_MEDIA_NVRAM, VK_OCI_LAYER_NVRAM, FALSE },
    { "disks/vda.qcow2", VK_OCI_MEDIA_QCOW2, VK_OCI_LAYER_DISK, FALSE },
    { "disks/sdb.raw", VK_OCI_MEDIA_RAW "+zstd", VK_OCI_LAYER_DISK, TRUE },
    { "disks/vda.1.qcow2", VK_OCI_MEDIA_QCOW2 "+zstd", VK_OCI_LAYER_BASE, TRUE },
    { "disks/vda.24.raw", VK_OCI_MEDIA_RAW, VK_OCI_LAYER_BASE, FALSE },
    /* refused */
    { "image.xml", VK_OCI_MEDIA_SIDECAR "+zstd", -1, FALSE },
    { "nvram.fd", VK_OCI_MEDIA_NVRAM "+zstd", -1, FALSE },
    { "state.sav", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/vda.qcow2", VK_OCI_MEDIA_RAW, -1, FALSE },
    { "disks/vda.0.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/vda.01.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/vda.100.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/vda.1.2.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/VDA.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/../vda.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/vda.vmdk", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/vda.qcow2/x", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "disks/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.qcow2", VK_OCI_MEDIA_QCOW2, -1, FALSE },
    { "../../etc/passwd", VK_OCI_MEDIA_SIDECAR, -1, FALSE },
    { "manifest.json", VK_OCI_MEDIA_SIDECAR, -1, FALSE },
    { NULL, VK_OCI_MEDIA_SIDECAR, -1, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(VkOciDescriptor) d = vk_oci_descriptor_new (cases[i].media, D1, 1, cases[i].title);
      g_autoptr(GError) error = NULL;
      VkOciLayerKind kind = 0;
      gboolean zstd = FALSE;
      gboolean ok = vk_oci_layer_kind (d, "lay", &kind, &zstd, &error);
      if (cases[i].kind < 0)
        {
          if (ok)
            g_error ("'%s' as %s was taken", cases[i].title, cases[i].media);
          g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
          g_assert_true (g_str_has_prefix (error->message, "lay: layer "));
          continue;
        }
      g_assert_no_error (error);
      g_assert_cmpint (kind, ==, cases[i].kind);
      g_assert_true (zstd == cases[i].zstd);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/oci/round-trip", test_round_trip);
  g_test_add_func ("/oci/empty-digest", test_empty_digest);
  g_test_add_func ("/oci/index", test_index);
  g_test_add_func ("/oci/index-several", test_index_several);
  g_test_add_func ("/oci/layout", test_layout);
  g_test_add_func ("/oci/refused", test_refused);
  g_test_add_func ("/oci/too-many-layers", test_too_many_layers);
  g_test_add_func ("/oci/layer-kind", test_layer_kind);
  return g_test_run ();
}
