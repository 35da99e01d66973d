from secateurs.cli import main

main()
