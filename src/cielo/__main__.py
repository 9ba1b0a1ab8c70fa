from cielo.cli import main

main()
