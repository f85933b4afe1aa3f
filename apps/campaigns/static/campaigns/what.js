// Step 4, What. The form is never swapped (only #what-editor and #what-preview are), so the
// listeners sit on it and keep working after htmx re-renders a part.
(function () {
  function setup() {
    var form = document.getElementById("what-form");
    if (!form) return;
    var last = null;
    var menu = document.getElementById("personalize");
    form.addEventListener("focusin", function (event) {
      if (event.target.matches("[data-liquid]")) last = event.target;
    });
    // Insert a personalization tag at the cursor of the last message field used. Without
    // JavaScript the tags are still listed (as titles) to copy by hand.
    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-insert]");
      if (!button) return;
      if (!last || !document.body.contains(last)) last = form.querySelector("[data-liquid]");
      if (!last) return;
      var tag = button.getAttribute("data-insert");
      var start = last.selectionStart, end = last.selectionEnd;
      if (start === null || start === undefined) { start = end = last.value.length; }
      last.setRangeText(tag, start, end, "end");
      last.focus();
      last.dispatchEvent(new Event("input", { bubbles: true }));
    });
    form.addEventListener("keydown", function (event) {
      // "@" in a message field opens the personalization menu (as the product does); the
      // character is still typed, for an email address.
      if (event.key === "@" && event.target.matches("[data-liquid]") && menu) menu.open = true;
      // Enter in the profile search looks profiles up instead of saving the step.
      if (event.key === "Enter" && event.target.matches("[data-no-enter]")) event.preventDefault();
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
