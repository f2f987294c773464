// Poll the JSON endpoint until the run has finished, then reload for the final figures.
(function () {
  const url = JSON.parse(document.getElementById("run-data").textContent).api_url;
  async function poll() {
    const response = await fetch(url, {headers: {Accept: "application/json"}});
    if (response.ok) {
      const run = await response.json();
      document.getElementById("run-progress").value = run.progress;
      document.getElementById("run-status").textContent = run.status;
      document.getElementById("run-message").textContent = run.message;
      if (run.finished) { window.location.reload(); return; }
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
