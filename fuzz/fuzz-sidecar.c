/* Fuzz harness: the hibernate sidecar (src/core/sidecar.c).
 *
 * An imported image's image.xml is untrusted, and what the reader accepts
 * decides whether a VM may wake. vk_sidecar_to_xml parses its own output
 * before returning it, so a sidecar that was accepted once but cannot be
 * written again (or not read back) would strand the image: parse, write,
 * parse again must succeed and keep every field. */
#include "config.h"

#include "fuzz-common.h"
#include "identity.h"
#include "sidecar.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  return 0;
}

static void
check_same (const VkSidecar *a, const VkSidecar *b)
{
  g_autoptr(GPtrArray) diffs = vk_identity_compare (a->identity, b->identity);

  vk_fuzz_check (a->mode == b->mode, "mode");
  vk_fuzz_check (g_str_equal (a->domain_name, b->domain_name), "domain name");
  vk_fuzz_check (g_str_equal (a->domain_uuid, b->domain_uuid), "domain UUID");
  /* The writer keeps whole seconds, as vmkeep records them. */
  vk_fuzz_check (g_date_time_to_unix (a->created) == g_date_time_to_unix (b->created),
                 "created");
  vk_fuzz_check (g_str_equal (a->host, b->host), "host");
  vk_fuzz_check (g_str_equal (a->libvirt_version, b->libvirt_version), "libvirt version");
  vk_fuzz_check (g_str_equal (a->qemu_version, b->qemu_version), "QEMU version");
  vk_fuzz_check (g_strcmp0 (a->state_file, b->state_file) == 0, "state file");
  vk_fuzz_check (a->has_state_size == b->has_state_size &&
                 (!a->has_state_size || a->state_size == b->state_size), "state size");
  vk_fuzz_check (g_strcmp0 (a->state_sha256, b->state_sha256) == 0, "state SHA-256");
  vk_fuzz_check (a->state_format == b->state_format, "state format");
  /* One channel is what no channels attribute means. */
  vk_fuzz_check (MAX (a->state_channels, 1) == MAX (b->state_channels, 1), "state channels");
  vk_fuzz_check (g_strcmp0 (a->nvram_path, b->nvram_path) == 0, "NVRAM path");
  vk_fuzz_check (g_strcmp0 (a->nvram_sha256, b->nvram_sha256) == 0, "NVRAM SHA-256");
  vk_fuzz_check (a->tpm == b->tpm, "TPM");
  vk_fuzz_check (g_strcmp0 (a->identity->machine, b->identity->machine) == 0, "machine");
  vk_fuzz_check (diffs->len == 0, "identity: %s", (const char *) diffs->pdata[0]);
  vk_fuzz_check (a->frozen_disks->len == b->frozen_disks->len, "frozen disks");
  for (guint i = 0; i < a->frozen_disks->len; i++)
    {
      const VkFrozenDisk *x = a->frozen_disks->pdata[i], *y = b->frozen_disks->pdata[i];

      vk_fuzz_check (g_str_equal (x->target, y->target) && g_str_equal (x->original, y->original) &&
                     g_str_equal (x->frozen, y->frozen) && g_str_equal (x->format, y->format) &&
                     x->size == y->size &&
                     g_strcmp0 (x->overlay_sha256, y->overlay_sha256) == 0,
                     "frozen disk %u", i);
    }
  vk_fuzz_check (g_str_equal (a->domain_xml, b->domain_xml), "domain XML");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(VkSidecar) sc = NULL;
  g_autoptr(VkSidecar) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *again = NULL;

  sc = vk_sidecar_parse ((const char *) data, (gssize) size, "fuzz.xml", &error);
  if (sc == NULL)
    {
      vk_fuzz_check_error (error, "vk_sidecar_parse");
      return 0;
    }
  vk_fuzz_check (sc->identity != NULL && sc->domain_xml != NULL && sc->created != NULL,
                 "accepted sidecar lacks a required field");
  vk_fuzz_check (sc->mode != VK_SIDECAR_IMAGE ||
                 (sc->state_file != NULL && strchr (sc->state_file, '/') == NULL &&
                  sc->state_sha256 != NULL && sc->has_state_size),
                 "image-mode sidecar with a bad <state>");

  text = vk_sidecar_to_xml (sc, &error);
  vk_fuzz_check (text != NULL, "an accepted sidecar cannot be written again: %s",
                 error->message);
  back = vk_sidecar_parse (text, -1, "round trip", &error);
  vk_fuzz_check (back != NULL, "a written sidecar does not parse: %s", error->message);
  check_same (sc, back);
  /* Written text is a fixed point: writing what was read gives it again. */
  again = vk_sidecar_to_xml (back, &error);
  vk_fuzz_check (again != NULL && g_str_equal (text, again), "writer is not a fixed point");
  return 0;
}
