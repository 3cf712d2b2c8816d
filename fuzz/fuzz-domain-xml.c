/* Fuzz harness: libvirt domain XML from elsewhere — an imported image's
 * sidecar and save header carry one, `vmkeep pin FILE` reads one — through
 * vk_xml_parse (src/core/domain-xml.c) and everything that reads the
 * document: vk_identity_from_domain and vk_domain_xml_diff (identity.c),
 * vk_pin with and without relayout,
 * vk_layout_check, vk_layout_table and the placement of a new NIC or
 * device (pin.c).
 *
 * Invariants: a document compared with itself has no differences; a
 * pinned document still parses after formatting. (The trust boundary has
 * a harness of its own, fuzz-trust.c.)
 * The input also goes through with a second, narrower policy (chosen by
 * the input's length) so the exhaustion paths are reached with small
 * documents. */
#include "config.h"

#include "domain-xml.h"
#include "fuzz-common.h"
#include "identity.h"
#include "pci-layout.h"
#include "pin.h"

/* VK_FUZZ_STRICT_PIN=1 adds the golden tests' promise (tests/data/pin/
 * README) for any input: what vk_pin produced passes vk_layout_check and
 * is a fixed point of vk_pin. Off by default: a policy finding is not a
 * memory error, and one would stop every run at the same place. */
static gboolean strict_pin;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  strict_pin = g_strcmp0 (g_getenv ("VK_FUZZ_STRICT_PIN"), "1") == 0;
  return 0;
}

static void
check_result (gboolean ok, GError **error, const char *what)
{
  if (!ok)
    vk_fuzz_check_error (*error, what);
  g_clear_error (error);
}

static void
run_layout (xmlDocPtr doc, const VkLayoutPolicy *policy)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) violations = vk_layout_check (doc, policy, &error);
  g_autoptr(GPtrArray) rows = NULL;
  VkNicPlacement nic;
  VkDevicePlacement dev;
  gboolean ok;

  check_result (violations != NULL, &error, "vk_layout_check");
  rows = vk_layout_table (doc, policy, &error);
  check_result (rows != NULL, &error, "vk_layout_table");
  ok = vk_place_new_nic (doc, policy, TRUE, &nic, &error);
  check_result (ok, &error, "vk_place_new_nic");
  g_clear_pointer (&nic.port, xmlFreeNode);
  ok = vk_place_new_device (doc, policy, TRUE, FALSE, &dev, &error);
  check_result (ok, &error, "vk_place_new_device");
  g_clear_pointer (&dev.port, xmlFreeNode);
  ok = vk_place_new_device (doc, policy, FALSE, TRUE, &dev, &error);
  check_result (ok, &error, "vk_place_new_device");
  g_clear_pointer (&dev.port, xmlFreeNode);
}

static void
run_pin (xmlDocPtr orig, const VkLayoutPolicy *policy, gboolean relayout)
{
  g_autoptr(xmlDoc) doc = xmlCopyDoc (orig, 1);
  g_autoptr(GError) error = NULL;
  VkPinOptions opts = { *policy, relayout };
  g_autofree char *text = NULL;
  g_autoptr(xmlDoc) again = NULL;
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) identity = NULL;
  gboolean ok;

  ok = vk_pin (doc, &opts, &error);
  check_result (ok, &error, relayout ? "vk_pin --relayout" : "vk_pin");
  if (!ok)
    return;
  run_layout (doc, policy);
  text = vk_xml_format (doc);
  again = vk_xml_parse (text, -1, "pinned", &error);
  vk_fuzz_check (again != NULL, "pinned XML does not parse: %s", error->message);
  /* pin changes addresses and adds devices: report them, no invariant. */
  ok = vk_domain_xml_diff (orig, doc, &allowed, &identity, &error);
  check_result (ok, &error, "vk_domain_xml_diff");

  if (strict_pin)
    {
      g_autoptr(GPtrArray) violations = vk_layout_check (doc, policy, &error);
      VkPinOptions keep = { *policy, FALSE };
      g_autofree char *twice = NULL;

      vk_fuzz_check (violations != NULL && violations->len == 0,
                     "pinned XML violates the policy: %s",
                     violations ? ((VkViolation *) violations->pdata[0])->message
                                : error->message);
      vk_fuzz_check (vk_pin (again, &keep, &error), "pinned XML does not pin again: %s",
                     error->message);
      twice = vk_xml_format (again);
      vk_fuzz_check (g_str_equal (text, twice), "pinned XML is not a fixed point of pin");
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(VkIdentity) id = NULL;
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) identity = NULL;
  VkLayoutPolicy policy;
  gboolean ok;

  doc = vk_xml_parse ((const char *) data, (gssize) size, "fuzz.xml", &error);
  if (doc == NULL)
    {
      vk_fuzz_check_error (error, "vk_xml_parse");
      return 0;
    }

  id = vk_identity_from_domain (doc, &error);
  check_result (id != NULL, &error, "vk_identity_from_domain");
  if (id == NULL)
    return 0;
  {
    g_autoptr(GPtrArray) diffs = vk_identity_compare (id, id);
    vk_fuzz_check (diffs->len == 0, "identity differs from itself: %s",
                   (const char *) diffs->pdata[0]);
  }
  ok = vk_domain_xml_diff (doc, doc, &allowed, &identity, &error);
  check_result (ok, &error, "vk_domain_xml_diff");
  if (ok)
    vk_fuzz_check (allowed->len == 0 && identity->len == 0,
                   "document differs from itself: %s",
                   ((VkXmlDifference *) (allowed->len ? allowed : identity)->pdata[0])->text);

  vk_layout_policy_init_defaults (&policy);
  if (size % 2 == 1)
    {
      policy.nic = (VkSlotRange) { 0x03, 0x05 };
      policy.dev = (VkSlotRange) { 0x08, 0x0c };
      policy.spare_nic_ports = 1;
      policy.spare_dev_ports = 0;
    }
  {
    g_autoptr(xmlDoc) copy = xmlCopyDoc (doc, 1);
    run_layout (copy, &policy);
  }
  run_pin (doc, &policy, FALSE);
  run_pin (doc, &policy, TRUE);
  return 0;
}
