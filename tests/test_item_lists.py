"""Item labels inside running sentences (issue 13): adjectives small, nouns and names as written."""

from clusterkrise import formatting as fmt


def test_adjective_first_labels_are_written_small_inside_a_sentence():
    assert fmt.in_sentence("Ausfallende analoge Veranstaltungen") == "ausfallende analoge Veranstaltungen"
    assert fmt.in_sentence("Fehlende Planungssicherheit") == "fehlende Planungssicherheit"
    assert fmt.in_sentence("Neue Liefer- und Absatzkanäle") == "neue Liefer- und Absatzkanäle"


def test_nouns_names_and_abbreviations_keep_their_capital():
    for label in ["Umsatzeinbußen", "Austritte von Mitgliedern", "Unternehmensvorstellungen (Pitch)",
                  "CRM Management System", "B2B-Match-Making", "Akquise von Neugeschäft", "Sachsen-Anhalt",
                  "Bereitstellen von digitalen Tools und Schulungen"]:
        assert fmt.in_sentence(label) == label


def test_a_list_writes_labels_small_and_a_single_label_stays_as_written():
    assert fmt.item_list(["Umsatzeinbußen", "Ausfallende analoge Veranstaltungen"]) == \
        "Umsatzeinbußen und ausfallende analoge Veranstaltungen"
    assert fmt.item_list(["Fehlende Planungssicherheit"]) == "Fehlende Planungssicherheit"
    assert fmt.item_list([], empty="kein Item") == "kein Item"
